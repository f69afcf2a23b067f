"""Writing to disk safely (README, "The run contract").

- Out of space (or over quota), wherever we write: one line naming the path, and the temporary files
  of the failed write removed, so that a full disk is not made fuller by our leftovers. polars and
  pyarrow wrap the OS error in their own exception types, and SQLite says "database or disk is full":
  all are recognised.
- Durable before visible: `fsync_tree` flushes every file of a staged folder and the folders
  themselves, so that the rename which publishes them cannot survive a power cut while their bytes
  do not (a rename is journaled; data written without fsync may still be in the page cache)."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from schemas.errors import CurateError

NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
MARKERS = ("No space left on device", "os error 28", "Disk quota exceeded", "os error 122", "database or disk is full")


class NoSpace(CurateError):
    """Out of space, said in one line; `filename`: the path the system named (an outer writer, e.g.
    the dataset folder around its quarantine table, says it again with what it removed)."""

    def __init__(self, message: str, filename: str):
        super().__init__(message)
        self.filename = filename


def is_no_space(e: BaseException) -> bool:
    if isinstance(e, NoSpace) or isinstance(e, OSError) and e.errno in NO_SPACE:
        return True
    return any(m in str(e) for m in MARKERS)


def no_space(e: BaseException, path: Path | str, what: str, removed: str, hint: str = "") -> NoSpace:
    """The one line: the path the OS named (else `path`), what was being written, what was removed."""
    where = str(getattr(e, "filename", None) or path)
    return NoSpace(f"{where}: no space left on device writing {what}; {removed}{hint}", where)


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except OSError:
            pass


@contextmanager
def temporary(path: Path, what: str, hint: str = "") -> Iterator[Path]:
    """Write `path` (a temporary file or folder) in the block: when it fails, `path` is removed, and
    running out of space becomes one line naming the path."""
    try:
        yield path
    except BaseException as e:
        remove(path)
        if is_no_space(e):
            raise no_space(e, path, what, f"the temporary {path.name} was removed", hint) from None
        raise


CACHE_HINT = "; free space, or give --cache-dir (or CURATE_CACHE_DIR) on a disk with room"


def fsync_tree(root: Path) -> None:
    """fsync every regular file under `root`, then every folder (deepest first, `root` last), so that
    their bytes and names are on the disk before `root` is renamed into place."""
    folders = []
    for dirpath, _dirnames, filenames in os.walk(root):
        folders.append(dirpath)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                continue
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    for folder in reversed(folders):
        fsync_dir(folder)


def fsync_dir(folder: Path | str) -> None:
    """fsync a folder: its entries (names created, renamed, removed) reach the disk."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:  # a system without directory fsync
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
