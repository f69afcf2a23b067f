"""Content-addressed cache of step outputs, so a killed run resumes without redoing finished steps.

The key of a step's output is a hash of its input content, its configuration and its code version.
An entry is a directory written under a temporary name and renamed into place, so a kill at any
moment leaves either a whole entry or none; two runs that compute the same key write the same bytes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path

import orjson
import polars as pl

from pipelines.engine.disk import CACHE_HINT, fsync_tree, temporary
from pipelines.engine.steps import Account, Step, StepResult
from schemas.quarantine import empty_quarantine

CODE_EPOCH = "1"  # bump to invalidate every cached entry after a change of storage format


def default_cache_dir() -> Path:
    env = os.environ.get("CURATE_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "curate"


def frame_hash(frame: pl.DataFrame) -> str:
    """A hash of a frame's schema and content (row order matters)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(str(frame.schema).encode())
    h.update(str(frame.height).encode())
    if frame.height and frame.width:
        h.update(frame.hash_rows(seed=0).to_numpy().tobytes())
    return h.hexdigest()


def step_key(step: Step, inputs_hash: str) -> str:
    payload = orjson.dumps(
        {
            "epoch": CODE_EPOCH,
            "polars": pl.__version__,
            "step": step.name,
            "code": step.code_version(),
            "params": step.params(),
            "inputs": inputs_hash,
        },
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.blake2b(payload, digest_size=16).hexdigest()


class StepCache:
    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root else default_cache_dir()
        self.root.mkdir(parents=True, exist_ok=True)

    def _dir(self, step_name: str, key: str) -> Path:
        return self.root / "steps" / step_name / key

    def load_data(self, step_name: str, key: str) -> pl.DataFrame:
        return pl.read_parquet(self._dir(step_name, key) / "data.parquet")

    def load(self, step_name: str, key: str, with_data: bool = True) -> StepResult | None:
        """The cached result, or None. Without `with_data`, `data` is None and only the small
        parts are read: a later step's cached output may make the data unneeded."""
        entry = self._dir(step_name, key)
        if not (entry / "account.json").exists():
            return None
        account = Account.from_dict(orjson.loads((entry / "account.json").read_bytes()))
        data = self.load_data(step_name, key) if with_data else None
        quarantine = (
            pl.read_parquet(entry / "quarantine.parquet")
            if (entry / "quarantine.parquet").exists()
            else empty_quarantine()
        )
        # the removed rows of a step that keeps them (e.g. dedup: what each duplicate duplicates)
        dropped = pl.read_parquet(entry / "dropped.parquet") if (entry / "dropped.parquet").exists() else None
        return StepResult(data, account, quarantine, dropped)

    def store(self, step_name: str, key: str, result: StepResult) -> None:
        entry = self._dir(step_name, key)
        if (entry / "account.json").exists():
            return
        tmp = entry.with_name(f".{key}.{uuid.uuid4().hex}.tmp")
        with temporary(tmp, f"the step cache (step {step_name})", CACHE_HINT):
            tmp.mkdir(parents=True)
            result.data.write_parquet(tmp / "data.parquet", compression="zstd")
            if result.quarantine.height:
                result.quarantine.write_parquet(tmp / "quarantine.parquet", compression="zstd")
            if result.dropped_rows is not None:
                result.dropped_rows.write_parquet(tmp / "dropped.parquet", compression="zstd")
            # account.json last: its presence marks a complete entry
            (tmp / "account.json").write_bytes(orjson.dumps(result.account.to_dict()))
            fsync_tree(tmp)
        try:
            tmp.rename(entry)
        except OSError:  # another run stored the same key first; its bytes are the same
            shutil.rmtree(tmp, ignore_errors=True)
