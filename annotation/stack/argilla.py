"""argilla-server in a virtual environment of its own, its database, owner and processes."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from pathlib import Path

from .config import ARGILLA_SERVER_VERSION, OWNER_USERNAME, SERVER_LOCK, StackConfig
from .process import Service, StackError, http_ok, port_open, run_logged, wait_until


def server_service(cfg: StackConfig) -> Service:
    return Service("argilla-server", cfg.run, cfg.logs)


def worker_service(cfg: StackConfig) -> Service:
    return Service("argilla-worker", cfg.run, cfg.logs)


# --- the virtual environment ---------------------------------------------------------------


def _venv_digest(cfg: StackConfig) -> str:
    return hashlib.sha256(SERVER_LOCK.read_bytes() + cfg.server_python.encode()).hexdigest()


def _venv_stamp(cfg: StackConfig) -> Path:
    return cfg.venv / "curate.stamp"


def venv_ready(cfg: StackConfig) -> bool:
    try:
        return cfg.venv_python.exists() and _venv_stamp(cfg).read_text().strip() == _venv_digest(cfg)
    except OSError:
        return False


def ensure_venv(cfg: StackConfig) -> None:
    if venv_ready(cfg):
        return
    uv = shutil.which("uv")
    if uv is None:
        raise StackError("`uv` not found on PATH; install it with `pip install uv`.")
    log = cfg.logs / "setup.log"
    # never let uv fetch a Python build: only registries are reachable
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    env.pop("VIRTUAL_ENV", None)
    run_logged(
        [uv, "venv", "--clear", "-q", "--python", cfg.server_python, str(cfg.venv)],
        log,
        env=env,
        what=f"uv venv with Python {cfg.server_python}",
    )
    env["VIRTUAL_ENV"] = str(cfg.venv)
    run_logged(
        [uv, "pip", "install", "-q", "-r", str(SERVER_LOCK)],
        log,
        env=env,
        what=f"uv pip install argilla-server=={ARGILLA_SERVER_VERSION}",
    )
    _venv_stamp(cfg).write_text(_venv_digest(cfg) + "\n")


# --- secrets and the owner's credentials ---------------------------------------------------


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def secret_key(cfg: StackConfig) -> str:
    """A fixed ARGILLA_AUTH_SECRET_KEY per data directory, so sessions survive restarts."""
    if not cfg.secret_key_file.exists():
        _write_private(cfg.secret_key_file, secrets.token_hex(32) + "\n")
    return cfg.secret_key_file.read_text().strip()


def owner_credentials(cfg: StackConfig) -> dict:
    """The owner's username, password and API key: generated once, then reused."""
    if cfg.credentials_file.exists():
        return json.loads(cfg.credentials_file.read_text())
    creds = {
        "username": OWNER_USERNAME,
        "password": secrets.token_urlsafe(18),
        "api_key": "argilla.apikey." + secrets.token_urlsafe(32),
        "api_url": cfg.argilla_url,
    }
    _write_private(cfg.credentials_file, json.dumps(creds, indent=2) + "\n")
    return creds


def _write_env_file(cfg: StackConfig, creds: dict) -> None:
    _write_private(
        cfg.env_file,
        f"ARGILLA_API_URL={cfg.argilla_url}\nARGILLA_API_KEY={creds['api_key']}\n",
    )


def server_env(cfg: StackConfig) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        # the project's own settings must not leak into the server's interpreter
        if not key.startswith(("ARGILLA_", "PYTHON", "VIRTUAL_ENV"))
    }
    env.update(
        ARGILLA_HOME_PATH=str(cfg.argilla_home),
        ARGILLA_DATABASE_URL=cfg.database_url,
        ARGILLA_SEARCH_ENGINE="opensearch",
        ARGILLA_ELASTICSEARCH=cfg.opensearch_url,
        ARGILLA_REDIS_URL=cfg.redis_url,
        ARGILLA_AUTH_SECRET_KEY=secret_key(cfg),
        ARGILLA_SHOW_HUGGINGFACE_SPACE_PERSISTENT_STORAGE_WARNING="false",
        HF_HUB_DISABLE_TELEMETRY="1",  # no telemetry from a local stack (and no network anyway)
        COLUMNS="160",  # the worker logs through rich, which wraps at 80 columns without a tty
        VIRTUAL_ENV=str(cfg.venv),
        PATH=f"{cfg.venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return env


def _argilla_cli(cfg: StackConfig, *args: str) -> list[str]:
    return [str(cfg.venv_python), "-m", "argilla_server", *args]


# --- database ------------------------------------------------------------------------------


def _migrated_stamp(cfg: StackConfig) -> Path:
    return cfg.argilla_home / f"migrated-{ARGILLA_SERVER_VERSION}"


def prepare_database(cfg: StackConfig) -> dict:
    """Migrate the sqlite database and create the owner once; returns the owner's credentials."""
    cfg.argilla_home.mkdir(parents=True, exist_ok=True)
    creds = owner_credentials(cfg)
    db_exists = (cfg.argilla_home / "argilla.db").exists()
    if db_exists and _migrated_stamp(cfg).exists():
        _write_env_file(cfg, creds)
        return creds
    env, log = server_env(cfg), cfg.logs / "setup.log"
    run_logged(
        _argilla_cli(cfg, "database", "migrate"),
        log,
        env=env,
        cwd=cfg.argilla_home,
        what="argilla_server database migrate",
    )
    # --quiet: the command would otherwise print the password and key into the log
    run_logged(
        _argilla_cli(
            cfg,
            "database",
            "users",
            "create_default",
            "--quiet",
            "--api-key",
            creds["api_key"],
            "--password",
            creds["password"],
        ),
        log,
        env=env,
        cwd=cfg.argilla_home,
        what="argilla_server database users create_default",
        secrets=(creds["api_key"], creds["password"]),
    )
    _migrated_stamp(cfg).write_text("ok\n")
    _write_env_file(cfg, creds)
    return creds


# --- processes -----------------------------------------------------------------------------


def status_url(cfg: StackConfig) -> str:
    return f"{cfg.argilla_url}/api/v1/status"


def start_server(cfg: StackConfig) -> None:
    svc = server_service(cfg)
    if svc.pid() is not None:
        return
    if port_open(cfg.argilla_port):
        raise StackError(
            f"port {cfg.argilla_port} is already in use by a process this stack did not start; "
            "stop it or set CURATE_ARGILLA_PORT"
        )
    cmd = _argilla_cli(cfg, "start", "--host", "127.0.0.1", "--port", str(cfg.argilla_port))
    svc.start(cmd, server_env(cfg), cwd=cfg.argilla_home)


def start_worker(cfg: StackConfig) -> None:
    svc = worker_service(cfg)
    if svc.pid() is not None:
        return
    svc.start(_argilla_cli(cfg, "worker", "--num-workers", "1"), server_env(cfg), cwd=cfg.argilla_home)


def wait_server(cfg: StackConfig, timeout: float = 120) -> None:
    wait_until(lambda: http_ok(status_url(cfg)), server_service(cfg), "answering /api/v1/status", timeout)
