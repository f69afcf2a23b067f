"""`curate review users FILE`: annotators and workspaces from a file, idempotently.

FILE (YAML or JSON):

    workspaces: [norms-en, moral-fr]          # made when missing
    users:
      - username: alice
        first_name: Alice                     # optional (default: the username)
        role: annotator                       # annotator (default) or admin
        workspaces: [moral-fr]
        password_env: ALICE_PASSWORD          # optional: take the password from this variable

A user that does not exist yet is created; one without `password_env` gets a generated password.
Passwords (and API keys) of users created here are written to a credentials file of mode 0600,
never printed. An existing user keeps their password and is added to the workspaces listed that
they are not in yet. Nothing is removed: taking someone off a workspace is a deliberate act, done
in the UI or with the SDK.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from schemas.errors import CurateError, InputFileError


class UserEntry(BaseModel):
    model_config = {"extra": "forbid"}

    username: str = Field(min_length=1)
    first_name: str | None = None
    last_name: str | None = None
    role: Literal["annotator", "admin"] = "annotator"
    workspaces: list[str] = Field(default_factory=list)
    password_env: str | None = None


class UsersFile(BaseModel):
    model_config = {"extra": "forbid"}

    workspaces: list[str] = Field(default_factory=list)
    users: list[UserEntry] = Field(default_factory=list)

    @field_validator("users")
    @classmethod
    def unique_usernames(cls, users: list[UserEntry]) -> list[UserEntry]:
        seen = set()
        for u in users:
            if u.username in seen:
                raise ValueError(f"username {u.username!r} is listed twice")
            seen.add(u.username)
        return users

    def all_workspaces(self) -> list[str]:
        names = list(self.workspaces)
        for u in self.users:
            names += [w for w in u.workspaces if w not in names]
        return list(dict.fromkeys(names))


def load_users_file(path: Path) -> UsersFile:
    if not path.exists():
        raise InputFileError(path, "users file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}  # YAML reads JSON too
    except yaml.YAMLError as e:
        raise InputFileError(path, f"not valid YAML or JSON: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise InputFileError(path, "expected a mapping with `workspaces` and `users`")
    try:
        return UsersFile(**data)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors())
        raise InputFileError(path, problems) from None


@dataclass
class UsersResult:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    workspaces_created: list[str] = field(default_factory=list)
    added: list[tuple[str, str]] = field(default_factory=list)  # (username, workspace)
    credentials: Path | None = None


def _check(response, what: str):
    if response.status_code >= 400:
        raise CurateError(f"Argilla refused to {what}: HTTP {response.status_code}: {response.text[:300]}")
    return response.json()


def _password(entry: UserEntry) -> str:
    if entry.password_env:
        value = os.environ.get(entry.password_env)
        if not value:
            raise CurateError(f"user {entry.username!r}: environment variable {entry.password_env} is not set")
        if len(value) < 8:
            raise CurateError(
                f"user {entry.username!r}: the password in {entry.password_env} is shorter than 8 characters"
            )
        return value
    return secrets.token_urlsafe(12)


def write_credentials(path: Path, new: dict[str, dict]) -> None:
    """Merge `new` into the 0600 credentials file (created with that mode, never readable by others)."""
    old = json.loads(path.read_text()) if path.exists() else {}
    old.update(new)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(old, handle, indent=2)
    os.replace(tmp, path)
    os.chmod(path, 0o600)


def apply_users(client, users_file: UsersFile, credentials: Path, url: str | None = None) -> UsersResult:
    http = client.api.http_client
    result = UsersResult(credentials=credentials)
    existing = {
        u["username"]: u for u in _check(http.get("/api/v1/users"), "list users (needs an owner's key)")["items"]
    }
    # every new user's password first: a missing variable must stop the run before anyone is created
    passwords = {}
    problems = []
    for entry in users_file.users:
        if entry.username not in existing:
            try:
                passwords[entry.username] = _password(entry)
            except CurateError as e:
                problems.append(str(e))
    if problems:
        raise CurateError("nothing was created: " + "; ".join(problems))
    workspaces = {w["name"]: w["id"] for w in _check(http.get("/api/v1/me/workspaces"), "list workspaces")["items"]}
    for name in users_file.all_workspaces():
        if name not in workspaces:
            workspaces[name] = _check(
                http.post("/api/v1/workspaces", json={"name": name}), f"create workspace {name!r}"
            )["id"]
            result.workspaces_created.append(name)
    for entry in users_file.users:
        user = existing.get(entry.username)
        if user is None:
            password = passwords[entry.username]
            user = _check(
                http.post(
                    "/api/v1/users",
                    json={
                        "username": entry.username,
                        "first_name": entry.first_name or entry.username,
                        "last_name": entry.last_name,
                        "role": entry.role,
                        "password": password,
                    },
                ),
                f"create user {entry.username!r}",
            )
            # written at once: if a later call fails, this user's password is not lost
            write_credentials(
                credentials,
                {
                    entry.username: {
                        "password": password,
                        "api_key": user["api_key"],
                        "role": entry.role,
                        **({"url": url} if url else {}),
                    }
                },
            )
            result.created.append(entry.username)
        else:
            result.existing.append(entry.username)
        member_of = {
            w["name"]
            for w in _check(http.get(f"/api/v1/users/{user['id']}/workspaces"), "list a user's workspaces")["items"]
        }
        for name in entry.workspaces:
            if name not in member_of:
                _check(
                    http.post(f"/api/v1/workspaces/{workspaces[name]}/users", json={"user_id": user["id"]}),
                    f"add {entry.username!r} to workspace {name!r}",
                )
                result.added.append((entry.username, name))
    return result
