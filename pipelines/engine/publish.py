"""Versioned publishing: a run folder becomes an immutable, tagged version of a dataset repository.

A local repository is a git repository with one tag `vX.Y.Z` per version, the way the Hub keeps
revisions. `datasets.load_dataset(local_dir, revision=...)` ignores `revision` for local folders
(datasets 5.2 loads the working tree), so `load_version` materializes a tag into a folder of its
own first. To the Hub, `huggingface_hub` uploads the same files and creates the same tag.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
import polars as pl

from data_cards.card import load_snippet, with_load_snippet
from pipelines.engine.layout import DATA_DIR
from pipelines.engine.report import atomic_write_bytes
from schemas.envelope import ENVELOPE_SCHEMA
from schemas.errors import CurateError

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
VOLATILE = ("created_at",)  # columns that change on every run without the record changing
PUBLISHED = ("README.md", "report.json", DATA_DIR, "plots")  # quarantine.parquet stays with the run


@dataclass
class ConfigDiff:
    config: str
    rows: int
    added: int
    removed: int
    changed: int
    unchanged: int


# -- checks --------------------------------------------------------------------------------------


def parse_version(version: str) -> tuple[int, int, int]:
    v = version[1:] if version.startswith("v") else version
    m = SEMVER.match(v)
    if not m:
        raise CurateError(f"version {version!r} is not semantic (X.Y.Z, e.g. 1.0.0)")
    return tuple(int(x) for x in m.groups())  # type: ignore[return-value]


def read_configs(run_dir: Path) -> dict[str, pl.DataFrame]:
    data = run_dir / DATA_DIR
    if not (run_dir / "README.md").exists() or not data.is_dir():
        raise CurateError(f"{run_dir}: not a run folder (expected README.md and {DATA_DIR}/ from `curate run`)")
    configs = {}
    for folder in sorted(p for p in data.iterdir() if p.is_dir()):
        try:
            configs[folder.name] = pl.read_parquet(folder / "*.parquet")
        except Exception as e:
            raise CurateError(f"{folder}: cannot read its parquet files: {e}") from None
    if not configs:
        raise CurateError(f"{run_dir}: no configs under {DATA_DIR}/")
    return configs


def check_schema(configs: dict[str, pl.DataFrame]) -> None:
    """Every config carries the record envelope with its types, and unique, non-null record ids."""
    problems = []
    for name, frame in configs.items():
        for col, dtype in ENVELOPE_SCHEMA.items():
            if col not in frame.columns:
                problems.append(f"config {name!r}: envelope column {col!r} is missing")
            elif frame.schema[col] != dtype:
                problems.append(f"config {name!r}: column {col!r} is {frame.schema[col]}, expected {dtype}")
        if "record_id" in frame.columns:
            if frame["record_id"].null_count():
                problems.append(f"config {name!r}: {frame['record_id'].null_count()} rows without record_id")
            dupes = frame.height - frame["record_id"].n_unique()
            if dupes:
                problems.append(f"config {name!r}: {dupes} duplicate record_id values")
    if problems:
        raise CurateError("the data fails its schema checks, nothing was published:\n  " + "\n  ".join(problems))


# -- diff ----------------------------------------------------------------------------------------


def row_hashes(frame: pl.DataFrame) -> pl.DataFrame:
    content = frame.drop([c for c in VOLATILE if c in frame.columns])
    content = content.select(sorted(content.columns))
    return frame.select("record_id").with_columns(content.hash_rows(seed=0).alias("_hash"))


def diff_configs(new: dict[str, pl.DataFrame], old: dict[str, pl.DataFrame]) -> list[ConfigDiff]:
    diffs = []
    for name in sorted(set(new) | set(old)):
        a = row_hashes(old[name]) if name in old else pl.DataFrame(schema={"record_id": pl.String, "_hash": pl.UInt64})
        b = row_hashes(new[name]) if name in new else pl.DataFrame(schema={"record_id": pl.String, "_hash": pl.UInt64})
        joined = a.join(b, on="record_id", how="full", suffix="_new", coalesce=True)
        added = joined.filter(pl.col("_hash").is_null()).height
        removed = joined.filter(pl.col("_hash_new").is_null()).height
        both = joined.filter(pl.col("_hash").is_not_null() & pl.col("_hash_new").is_not_null())
        changed = both.filter(pl.col("_hash") != pl.col("_hash_new")).height
        diffs.append(ConfigDiff(name, b.height, added, removed, changed, both.height - changed))
    return diffs


def diff_markdown(version: str, previous: str | None, diffs: list[ConfigDiff]) -> str:
    if previous is None:
        head = f"First version, {version}."
    else:
        head = f"Changes from {previous} to {version}, by `record_id` (created_at ignored):"
    rows = ["| config | rows | added | removed | changed | unchanged |", "|---|---:|---:|---:|---:|---:|"]
    rows += [f"| {d.config} | {d.rows} | {d.added} | {d.removed} | {d.changed} | {d.unchanged} |" for d in diffs]
    return head + "\n\n" + "\n".join(rows)


# -- git -----------------------------------------------------------------------------------------


def git(repo: Path, *args: str, check: bool = True) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": os.environ.get("GIT_AUTHOR_NAME", "curate"),
        "GIT_AUTHOR_EMAIL": os.environ.get("GIT_AUTHOR_EMAIL", "curate@localhost"),
        "GIT_COMMITTER_NAME": os.environ.get("GIT_COMMITTER_NAME", "curate"),
        "GIT_COMMITTER_EMAIL": os.environ.get("GIT_COMMITTER_EMAIL", "curate@localhost"),
    }
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise CurateError(f"git {' '.join(args)} in {repo} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def versions(repo: Path, *, must_exist: bool = False) -> list[str]:
    """Published versions, oldest first. With `must_exist`, a folder that is not a dataset
    repository is an error (for `curate versions`); otherwise it has no versions yet."""
    repo = Path(repo)
    if not (repo / ".git").exists():
        if must_exist:
            what = "does not exist" if not repo.exists() else "is not a dataset repository (no .git)"
            raise CurateError(
                f"{repo}: {what}; publish a first version with `curate publish DIR --repo {repo} --version 1.0.0`"
            )
        return []
    tags = [t for t in git(repo, "tag", "--list", "v*").splitlines() if SEMVER.match(t[1:])]
    return sorted(tags, key=parse_version)


def next_version(repo: str | Path, bump: str = "patch") -> str:
    """The version after the latest of a local repository ("1.0.0" for the first): the next patch
    (scheduled runs) or minor (a human review) version."""
    kind, target = resolve_repo(repo)
    existing = versions(Path(target)) if kind == "local" else []
    if not existing:
        return "1.0.0"
    major, minor, patch = parse_version(existing[-1])
    return f"{major}.{minor + 1}.0" if bump == "minor" else f"{major}.{minor}.{patch + 1}"


def configs_at(repo: Path, tag: str) -> dict[str, pl.DataFrame]:
    with materialized(repo, tag) as folder:
        return read_configs(folder)


class materialized:
    """A tag's files in a temporary folder of their own (a git worktree)."""

    def __init__(self, repo: Path, tag: str):
        # absolute: git resolves a relative worktree path against the repository, not our cwd
        repo = Path(repo).resolve()
        self.repo, self.tag = repo, tag
        self.path = repo / ".git" / "curate-worktrees" / f"{tag}-{os.getpid()}"

    def __enter__(self) -> Path:
        git(self.repo, "worktree", "add", "--detach", "--force", str(self.path), self.tag)
        return self.path

    def __exit__(self, *exc) -> None:
        git(self.repo, "worktree", "remove", "--force", str(self.path), check=False)


# -- terms and plans -----------------------------------------------------------------------------

INHERITED_TERMS = ("license", "dataset_name", "citation")  # license "other:NAME" carries license_name


def _show(repo: Path, tag: str, name: str) -> str | None:
    proc = subprocess.run(["git", "-C", str(repo), "show", f"{tag}:{name}"], capture_output=True, text=True)
    return proc.stdout if proc.returncode == 0 else None


def version_report(repo: Path, tag: str) -> dict:
    text = _show(repo, tag, "report.json")
    try:
        return orjson.loads(text) if text else {}
    except orjson.JSONDecodeError:
        return {}


def version_terms(repo: Path, tag: str) -> dict[str, str | None]:
    """The terms a published version was made with (its report's `facts.terms`); for a version made
    before runs recorded them, the license of its card's header. Only the terms known are keys."""
    terms = version_report(repo, tag).get("facts", {}).get("terms")
    if terms:
        return {k: terms.get(k) for k in INHERITED_TERMS}
    from huggingface_hub import DatasetCard

    try:  # the header as the Hub reads it
        data = DatasetCard(_show(repo, tag, "README.md") or "").data.to_dict()
    except ValueError:
        data = {}
    license = data.get("license")
    if not license:
        return {}
    return {"license": f"other:{data['license_name']}" if license == "other" and data.get("license_name") else license}


@dataclass
class PublishPlan:
    """What publishing to `repo` will mean, known before any work: the version to publish (None: the
    next patch), the latest version and the terms the run inherits from it."""

    repo: str
    version: str | None
    previous: str | None
    inherited: dict[str, str]


def plan_publish(repo: str, version: str | None, recipe: str, *, hub: bool = False) -> PublishPlan:
    """The checks that need no data, before the run starts: a semantic version, not older than the
    latest (unless it exists: equal data then publishes nothing), a repository of the same recipe;
    and the latest version's terms, which the run keeps where its config sets none."""
    tag = f"v{version.lstrip('v')}" if version else None
    if version:
        parse_version(version)
    kind, target = resolve_repo(repo, hub=hub)
    existing = versions(Path(target)) if kind == "local" else []
    if not existing:
        return PublishPlan(str(target), tag, None, {})
    latest = existing[-1]
    if tag and tag not in existing and parse_version(tag) < parse_version(latest):
        raise CurateError(f"{repo}: version {tag} is older than the latest, {latest}")
    check_recipe(Path(target), latest, recipe, repo)
    inherited = {k: v for k, v in version_terms(Path(target), latest).items() if v is not None and v != "unknown"}
    return PublishPlan(str(target), tag, latest, inherited)


def check_recipe(repo: Path, tag: str, recipe: str | None, shown: str | Path) -> None:
    theirs = version_report(repo, tag).get("recipe")
    if recipe and theirs and theirs != recipe:
        raise CurateError(
            f"{shown}: its versions are `{theirs}` datasets ({tag}); a `{recipe}` run is published to a "
            "repository of its own"
        )


def check_clean(repo: Path, shown) -> None:
    """A version commits the whole worktree (`git add --all`): changes that curate did not make (a
    user's edit to the card, a file dropped there) would be published under the version's tag."""
    changed = git(repo, "status", "--porcelain", "--untracked-files=all", check=False)
    if changed:
        first = changed.splitlines()[0].split(maxsplit=1)[-1]
        raise CurateError(
            f"{shown}: the repository has changes that curate did not make ({first}"
            f"{' and more' if len(changed.splitlines()) > 1 else ''}); commit or undo them, then publish"
        )


def terms_changes(run_terms: dict | None, previous: dict, tag: str | None) -> list[str]:
    """The terms that change from the previous version, one line each; a term the run left at its
    default while the previous version set it is refused (a version keeps its terms unless its
    config changes them)."""
    if not run_terms or not tag:
        return []
    changes = []
    for key in INHERITED_TERMS:
        if key not in previous:  # not known for that version
            continue
        old, new = previous[key], run_terms.get(key)
        if old == new or (old in (None, "unknown") and new in (None, "unknown")):
            continue
        source = run_terms.get("source", {}).get(key, "config")
        if source == "default" and old not in (None, "unknown"):
            raise CurateError(
                f"{key} is the default ({new!r}) in this run but {old!r} in {tag}: a version keeps its terms unless its "
                f"config changes them: set {key} in the config (--set {key}=...), or publish with `curate run "
                "--publish-to`, which keeps them"
            )
        changes.append(f"{key}: {old!r} -> {new!r} ({source})")
    return changes


# -- publish -------------------------------------------------------------------------------------


HUB_PREFIX = "hf://"


def resolve_repo(repo: str | Path, *, hub: bool = False) -> tuple[str, str | Path]:
    """("hub", "org/name") for `hf://org/name` (or any `org/name` with `hub=True`), else
    ("local", absolute path). A bare `org/name` is a folder: the README's `datasets/big5` must
    not turn into a Hub upload because the folder does not exist yet."""
    text = str(repo)
    if text.startswith(HUB_PREFIX):
        text, hub = text[len(HUB_PREFIX) :], True
        if text.startswith("datasets/"):  # hf://datasets/org/name, as huggingface_hub's fsspec spells it
            text = text[len("datasets/") :]
    if hub:
        if not _is_hub_id(text):
            raise CurateError(f"{repo!r} is not a Hub dataset id (hf://org/name)")
        return "hub", text
    return "local", Path(text).expanduser().resolve()


def publish(run_dir: Path, repo: str, version: str, *, message: str | None = None, hub: bool = False) -> dict:
    """Publish `run_dir` as `version` of `repo`: a local folder (relative or absolute path), or a
    Hub dataset `hf://org/name` (or `org/name` with `hub=True`).

    When the data of every config equals the latest version's (by `record_id` and content,
    `created_at` ignored), nothing is published: the result has `"version": None` and
    `"unchanged_from"` naming the latest version."""
    run_dir = Path(run_dir)
    parse_version(version)
    tag = f"v{version.lstrip('v')}"
    configs = read_configs(run_dir)
    check_schema(configs)
    report = orjson.loads((run_dir / "report.json").read_bytes()) if (run_dir / "report.json").is_file() else {}
    kind, target = resolve_repo(repo, hub=hub)
    if kind == "hub":
        return _publish_hub(run_dir, str(target), tag, configs, message)
    # the card names the repository as the user did (relative), never this machine's absolute path
    display = str(repo) if not Path(str(repo)).is_absolute() else Path(str(repo)).name
    return _publish_local(run_dir, Path(target), tag, configs, message, display, report, shown=str(repo))


def is_unchanged(diffs: list[ConfigDiff]) -> bool:
    return all(not (d.added or d.removed or d.changed) for d in diffs)


def _publish_local(
    run_dir: Path,
    repo: Path,
    tag: str,
    configs,
    message,
    display: str | None = None,
    report: dict | None = None,
    shown: str | None = None,  # errors name the repository as given; the card, as `display`
) -> dict:
    repo.mkdir(parents=True, exist_ok=True)
    if not (repo / ".git").exists():
        git(repo, "init", "--quiet", "--initial-branch=main")
    check_clean(repo, shown or display or repo)
    existing = versions(repo)
    previous = existing[-1] if existing else None
    if previous:
        check_recipe(repo, previous, (report or {}).get("recipe"), shown or display or repo)
    run_terms = (report or {}).get("facts", {}).get("terms")
    if tag in existing:  # a rerun: data (and terms) equal to that version or the latest publish nothing
        for known in dict.fromkeys([tag, previous]):
            diffs = diff_configs(configs, configs_at(repo, known))
            if is_unchanged(diffs) and not _terms_differ(run_terms, version_terms(repo, known)):
                return {
                    "repo": str(repo),
                    "version": None,
                    "previous": previous,
                    "unchanged_from": known,
                    "diff": [d.__dict__ for d in diffs],
                    "terms": [],
                }
        raise CurateError(
            f"{repo}: version {tag} exists and holds other data; versions are immutable, choose a new one "
            f"(the latest is {previous})"
        )
    if previous and parse_version(tag) < parse_version(previous):
        raise CurateError(f"{repo}: version {tag} is older than the latest, {previous}")
    old = configs_at(repo, previous) if previous else {}
    diffs = diff_configs(configs, old)
    terms = terms_changes(run_terms, version_terms(repo, previous), previous) if previous else []
    if previous and is_unchanged(diffs) and not terms:
        return {
            "repo": str(repo),
            "version": None,
            "previous": previous,
            "unchanged_from": previous,
            "diff": [d.__dict__ for d in diffs],
            "terms": [],
        }
    changes = diff_markdown(tag, previous, diffs)
    if terms:
        changes += "\n\nTerms changed:\n\n" + "\n".join(f"- {line}" for line in terms)

    for name in PUBLISHED:  # the repository holds exactly this version's files
        target = repo / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    copy_published(run_dir, repo)
    card = (repo / "README.md").read_text()
    card = with_load_snippet(card, load_snippet(sorted(configs), display or repo.name, tag, local=True))
    card = _with_changes(card, tag, changes)
    atomic_write_bytes(repo / "README.md", card.encode())
    _append_changelog(repo, tag, changes, message)
    atomic_write_bytes(
        repo / "version.json",
        orjson.dumps(
            {"version": tag, "previous": previous, "diff": [d.__dict__ for d in diffs]}, option=orjson.OPT_INDENT_2
        ),
    )

    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--allow-empty", "-m", message or f"Publish {tag}")
    git(repo, "tag", "-a", tag, "-m", f"{tag}\n\n{changes}")
    return {
        "repo": str(repo),
        "version": tag,
        "previous": previous,
        "diff": [d.__dict__ for d in diffs],
        "terms": terms,
    }


def _terms_differ(run_terms: dict | None, theirs: dict) -> bool:
    return bool(run_terms) and any(k in theirs and run_terms.get(k) != theirs[k] for k in INHERITED_TERMS)


def copy_published(run_dir: Path, target: Path) -> None:
    """The files of a run that a version holds (not quarantine.parquet) into `target`."""
    for name in PUBLISHED:
        source = run_dir / name
        if source.is_dir():
            shutil.copytree(source, target / name)
        elif source.exists():
            shutil.copy2(source, target / name)


def _with_changes(card: str, tag: str, changes: str) -> str:
    section = f"## Changes in this version ({tag})\n\n{changes}\n\nSee CHANGELOG.md for earlier versions.\n\n"
    marker = "## Dataset structure"
    return card.replace(marker, section + marker, 1) if marker in card else card + "\n" + section


def _append_changelog(repo: Path, tag: str, changes: str, message: str | None) -> None:
    path = repo / "CHANGELOG.md"
    old = path.read_text() if path.exists() else "# Changelog\n"
    today = datetime.now(UTC).date().isoformat()
    entry = f"\n## {tag} ({today})\n\n{message + chr(10) + chr(10) if message else ''}{changes}\n"
    head, _, rest = old.partition("\n")
    atomic_write_bytes(path, (head + "\n" + entry + rest).encode())


def load_version(repo: Path | str, config: str, version: str, split: str | None = None, **kwargs):
    """`datasets.load_dataset` of one published version of a local repository (a DatasetDict of its
    splits, or one split with `split=`).

    The tag is exported to `<repo>/.git/curate-versions/<tag>` (once; versions are immutable), so
    each version has a folder of its own and datasets' folder-name cache cannot mix them up."""
    import datasets

    repo = Path(repo).resolve()
    tag = f"v{version.lstrip('v')}"
    if tag not in versions(repo, must_exist=True):
        raise CurateError(f"{repo}: no version {tag}; published: {', '.join(versions(repo)) or 'none'}")
    folder = repo / ".git" / "curate-versions" / tag
    if not (folder / "README.md").exists():
        tmp = folder.with_name(f".{tag}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(repo), "archive", tag], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive.stdout, check=True)
        tmp.rename(folder)
    return datasets.load_dataset(str(folder), config, split=split, **kwargs)


# -- Hub -----------------------------------------------------------------------------------------


def _is_hub_id(repo: str) -> bool:
    return bool(re.match(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$", repo))


def _publish_hub(run_dir: Path, repo_id: str, tag: str, configs, message) -> dict:
    from huggingface_hub import HfApi

    token = os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN")
    if not token:
        raise CurateError("publishing to the Hub needs a token in HF_TOKEN (never on the command line)")
    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="dataset", exist_ok=True, private=True)
    refs = api.list_repo_refs(repo_id, repo_type="dataset")
    if tag in {t.name for t in refs.tags}:
        raise CurateError(f"{repo_id}: version {tag} exists on the Hub; versions are immutable")
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:  # the card's load snippet names the Hub id and revision
        staged = Path(tmp)
        copy_published(run_dir, staged)
        card = (staged / "README.md").read_text()
        atomic_write_bytes(
            staged / "README.md", with_load_snippet(card, load_snippet(sorted(configs), repo_id, tag)).encode()
        )
        api.upload_folder(
            repo_id=repo_id,
            repo_type="dataset",
            folder_path=str(staged),
            allow_patterns=["README.md", "report.json", f"{DATA_DIR}/**", "plots/**"],
            delete_patterns=[f"{DATA_DIR}/**", "plots/**"],
            commit_message=message or f"Publish {tag}",
        )
    api.create_tag(repo_id, tag=tag, repo_type="dataset", tag_message=tag)
    return {"repo": repo_id, "version": tag, "previous": None, "diff": []}
