"""Safe writing of a dataset folder: locked, staged beside it, swapped in whole.

The guarantees (README, "The run contract"):
- One run at a time per folder: an exclusive lock on a hidden sibling file `.<name>.curate.lock`
  (the `filelock` library; the OS releases it when the process dies, kill -9 included). A second run
  stops with one line, or waits up to `--lock-timeout` seconds. The lock file is removed when the
  run ends, while still held: a run waiting on it then finds it unlinked (filelock checks the link
  count after locking) and locks a fresh one, so no two runs ever hold the folder. Beside the target,
  not in it: the folder itself is swapped, and a lock inside it would be swapped away with it. A run
  killed with -9 leaves the empty lock file; the next run takes it and removes it.
- A reader sees the old dataset or the new one, whole: the new one is written into a sibling
  staging folder `.<name>.curate-staging-<pid>` and exchanged with the old one in one atomic
  `renameat2(RENAME_EXCHANGE)` (Linux); elsewhere two renames, the short gap between them repaired by
  the next run.
- A run never deletes or overwrites a file it did not write: the folder's `.curate-manifest.json`
  lists the files curate wrote; every other file (a user's `data/<other>/`, `plots/mine.png`) is
  carried into the new folder (hard links, else copies). An existing folder that is not a curate
  dataset is refused unless `allow_foreign` (`--allow-existing`).
- Durable: the staged files and folders are fsynced before the swap, the parent folder after it
  (pipelines/engine/disk.py), so that after a power cut the folder holds the old dataset or the new one.
- Out of space: one line naming the path; the staging folder is removed.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson
import yaml
from filelock import FileLock, Timeout

from pipelines.engine.disk import fsync_dir, fsync_tree, is_no_space, no_space
from pipelines.engine.runtime import fault_point
from schemas.errors import CurateError

MANIFEST = ".curate-manifest.json"
LEGACY_FILES = ("README.md", "report.json", "quarantine.parquet")  # written by curate before manifests


@dataclass
class Claim:
    out: Path
    allow_foreign: bool
    lock: FileLock
    depth: int = 1


_claims: dict[Path, Claim] = {}
_claims_lock = threading.Lock()


def lock_file(out: Path) -> Path:
    return out.parent / f".{out.name}.curate.lock"


def staging_dir(out: Path) -> Path:
    return out.parent / f".{out.name}.curate-staging-{os.getpid()}"


def _key(out: Path | str) -> Path:
    return Path(os.path.abspath(Path(out).expanduser()))


def check_target(out: Path, allow_foreign: bool = False) -> None:
    """Fail with one line when `out` cannot receive a dataset: a file, or a folder of someone else's."""
    if out.is_symlink() and not out.exists():
        raise CurateError(f"{out}: is a broken symbolic link; --output must be a folder")
    if out.is_symlink():  # the new dataset is swapped in by renaming: it would replace the link, not its folder
        raise CurateError(
            f"{out}: is a symbolic link (to {os.path.realpath(out)}); give the folder it points to as "
            "--output, so the dataset is written there"
        )
    if out.exists() and not out.is_dir():
        raise CurateError(f"{out}: exists and is not a folder; --output must be a (new or curate-written) folder")
    if out.is_dir() and not allow_foreign and owned_files(out) is None:
        raise CurateError(
            f"{out}: exists and is not a dataset folder written by curate (no {MANIFEST}); choose a new "
            "folder, or pass --allow-existing to add the dataset to it (its other files are kept)"
        )


def owned_files(out: Path) -> set[str] | None:
    """The files of `out` that curate wrote (relative POSIX paths), {} for an empty folder, or
    None when `out` is a folder that curate did not write."""
    manifest = out / MANIFEST
    if manifest.is_file():
        try:
            return set(orjson.loads(manifest.read_bytes())["files"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise CurateError(f"{manifest}: damaged manifest; move the folder aside and run again") from None
    if not any(out.iterdir()):
        return set()
    return _legacy_files(out)


def _legacy_files(out: Path) -> set[str] | None:
    """A folder written by curate before manifests: report.json names a recipe and the card's header
    lists the configs; its files are those the card points at."""
    try:
        report = orjson.loads((out / "report.json").read_bytes())
        card = (out / "README.md").read_text(encoding="utf-8")
        head = yaml.safe_load(card.split("---", 2)[1]) if card.startswith("---") else None
        configs = [c["config_name"] for c in head["configs"]]
    except Exception:  # anything unreadable: not recognisably ours
        return None
    if not isinstance(report, dict) or "recipe" not in report or "steps" not in report:
        return None
    files = {f for f in LEGACY_FILES if (out / f).is_file()}
    for name in configs:
        files |= {f"data/{name}/{p.name}" for p in (out / "data" / name).glob("train-*.parquet")}
    files |= {f"plots/{p.name}" for p in (out / "plots").glob("*.png") if f"plots/{p.name}" in card}
    return files


def _cannot_create(path: Path) -> str | None:
    """Why `path` cannot be created or opened for writing (a /proc or read-only parent), or None."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    except OSError as e:
        return e.strerror or str(e)
    os.close(fd)
    return None


@contextmanager
def claim_output(out: Path | str, *, allow_foreign: bool = False, lock_timeout: float = 0.0) -> Iterator[Claim]:
    """Hold the output folder for this run: check it, lock it (reentrant within the process)."""
    out = _key(out)
    with _claims_lock:
        claim = _claims.get(out)
        if claim is not None:
            claim.depth += 1
    if claim is not None:
        try:
            yield claim
        finally:
            claim.depth -= 1
        return
    check_target(out, allow_foreign)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CurateError(f"{out.parent}: cannot create the output's parent folder: {e.strerror}") from None
    lock = FileLock(lock_file(out), timeout=lock_timeout, thread_local=False)
    try:
        lock.acquire()
    except Timeout:
        refused = _cannot_create(lock_file(out))  # filelock retries a file it cannot create until the timeout
        if refused:
            raise CurateError(f"{lock_file(out)}: cannot create the output folder's lock file: {refused}") from None
        raise CurateError(
            f"{out}: another run is writing this folder (lock {lock_file(out).name} is held); "
            "wait for it, or pass --lock-timeout SECONDS to wait"
        ) from None
    except OSError as e:
        raise CurateError(f"{lock_file(out)}: cannot lock the output folder: {e.strerror}") from None
    claim = Claim(out, allow_foreign, lock)
    with _claims_lock:
        _claims[out] = claim
    try:
        recover(out)
        check_target(out, allow_foreign)  # again, under the lock: another run may have written it
        yield claim
    finally:
        with _claims_lock:
            _claims.pop(out, None)
        try:
            os.unlink(lock_file(out))  # still held: see the module's docstring
        except OSError:
            pass
        lock.release()


def recover(out: Path) -> None:
    """Under the lock: undo what a killed run left beside `out` (only our own staging folders)."""
    for old in sorted(out.parent.glob(f".{out.name}.curate-old-*")):
        if not out.exists():
            old.rename(out)  # killed between the two renames of the fallback swap
        else:
            shutil.rmtree(old, ignore_errors=True)
    for stale in out.parent.glob(f".{out.name}.curate-staging-*"):
        shutil.rmtree(stale, ignore_errors=True)


@contextmanager
def staged_dataset(out: Path | str) -> Iterator[Path]:
    """Yield a staging folder to write the whole new dataset into; on success swap it in for `out`
    (keeping the files curate did not write), on failure remove it and leave `out` as it was."""
    with claim_output(out) as claim:
        out = claim.out
        staging = staging_dir(out)
        shutil.rmtree(staging, ignore_errors=True)
        try:
            staging.mkdir()
            yield staging
            commit(out, staging, claim.allow_foreign)
        except BaseException as e:
            shutil.rmtree(staging, ignore_errors=True)
            if is_no_space(e):
                raise no_space(
                    e,
                    out,
                    f"the dataset folder {out}",
                    f"{out} was left as it was and the temporary files ({staging.name}) were removed",
                ) from None
            raise


def _walk(root: Path) -> Iterator[str]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = Path(dirpath).relative_to(root)
        for name in sorted(filenames):
            yield (rel / name).as_posix()
        for name in dirnames:  # symbolic links to folders and empty folders are the user's too
            p = Path(dirpath) / name
            if p.is_symlink() or not any(p.iterdir()):
                yield (rel / name).as_posix()


def commit(out: Path, staging: Path, allow_foreign: bool) -> None:
    written = set(_walk(staging))
    if out.is_dir():
        ours = owned_files(out)
        if ours is None and not allow_foreign:  # checked at the claim; a folder changed since
            check_target(out, allow_foreign)
        ours = ours or set()
        for rel in sorted(set(_walk(out)) - ours - {MANIFEST}):
            if rel in written:
                if not allow_foreign:
                    raise CurateError(
                        f"{out / rel}: a file curate did not write is where this run writes; "
                        "move it, or pass --allow-existing to replace it"
                    )
                continue
            _carry(out / rel, staging / rel)
    manifest = {"written_by": "curate", "files": sorted(written)}
    (staging / MANIFEST).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    fsync_tree(staging)  # the new dataset's bytes on the disk before its name is
    fault_point("dataset:staged")
    swap(staging, out)
    fsync_dir(out.parent)  # the swap itself


def _carry(source: Path, target: Path) -> None:
    """Bring a user's file into the new folder without copying its bytes where possible."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_symlink():
        os.symlink(os.readlink(source), target)
    elif source.is_dir():
        target.mkdir(exist_ok=True)
    else:
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux renameat2); False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError, TypeError):  # not Linux, or a libc without renameat2
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def swap(staging: Path, out: Path) -> None:
    """Put `staging` where `out` is, in one step a reader cannot see half of."""
    if not out.exists():
        staging.rename(out)
        fault_point("dataset:swapped")
        return
    if _exchange(staging, out):
        fault_point("dataset:swapped")
        shutil.rmtree(staging, ignore_errors=True)  # now the old dataset
        return
    old = out.parent / f".{out.name}.curate-old-{os.getpid()}"
    out.rename(old)
    fault_point("dataset:between-renames")
    staging.rename(out)
    fault_point("dataset:swapped")
    shutil.rmtree(old, ignore_errors=True)
