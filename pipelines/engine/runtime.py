"""What a recipe gets to run its steps: cache, report, Dask, logging, run time."""

from __future__ import annotations

import hashlib
import logging
import os
import time
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from pipelines.engine.cache import StepCache, frame_hash, step_key
from pipelines.engine.dask_runtime import DaskRuntime
from pipelines.engine.logs import run_logger
from pipelines.engine.report import RunReport
from pipelines.engine.steps import Step, StepResult
from schemas.errors import CurateError
from sources.files import input_name


def file_fingerprint(path: Path, chunk: int = 1 << 22) -> str:
    """An input's identity for the cache: its name as given in this run and the hash of its bytes.
    Records name the file as given, so a renamed (or moved) input is a new input: a cached output
    would otherwise publish the old name."""
    return f"{input_name(path)}:{content_hash(path, chunk)}"


def content_hash(path: Path, chunk: int = 1 << 22) -> str:
    """Hash of a file's bytes (blake2b, 16 bytes), as the card shows it."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def inputs_fingerprint(paths: list[Path]) -> str:
    """The identity of a run's input files for the cache, in order: each one's name as given and its
    content hash (`file_fingerprint`; a folder: its name as given, and the relative paths and content
    hashes of the files under it). A renamed or moved input is a new input."""
    parts = []
    for path in map(Path, paths):
        if path.is_dir():
            files = files_under(path)
            parts.append(
                f"dir:{input_name(path)}:" + ",".join(f"{p.relative_to(path)}={content_hash(p)}" for p in files)
            )
        elif path.is_file():
            parts.append(file_fingerprint(path))
    return "|".join(parts)


def files_under(folder: Path) -> list[Path]:
    """The files under an input folder, in the order its fingerprint lists them."""
    return sorted(p for p in folder.rglob("*") if p.is_file())


def input_files(paths: list[Path]) -> list[Path]:
    """The files an input list names: each file, and every file under each folder."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            out += files_under(path)
        elif path.is_file():
            out.append(path)
    return out


def file_states(paths: list[Path]) -> dict[str, tuple]:
    """What changes whenever a file's bytes do: inode, size, modification and status-change times
    (ctime moves on every write or replace and cannot be set back by a program)."""
    states = {}
    for f in input_files(paths):
        try:
            st = os.stat(f)
            states[str(f)] = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        except FileNotFoundError:
            states[str(f)] = None
    return states


def changed_input(before: dict[str, tuple], after: dict[str, tuple]) -> str | None:
    """The first input file whose state differs (or that appeared or vanished), or None."""
    for name in sorted(set(before) | set(after)):
        if before.get(name) != after.get(name):
            return name
    return None


@dataclass
class RunContext:
    recipe: str
    output: Path
    cache: StepCache | None = None
    dask: DaskRuntime = field(default_factory=DaskRuntime)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    report: RunReport = None  # type: ignore[assignment]
    llm: Any = None  # the run's LLM client, once a recipe asked for one and a model is configured
    provenance: dict[str, dict] = field(default_factory=dict)  # step name -> its provenance entry, as run
    _fingerprints: dict[tuple[str, ...], str] = field(default_factory=dict, repr=False)
    _states: dict[str, tuple[list[Path], dict]] = field(default_factory=dict, repr=False)  # hash -> files as hashed
    _outputs: dict[int, _Made] = field(default_factory=dict, repr=False)  # id(frame) -> what made it

    def __post_init__(self) -> None:
        if self.report is None:
            self.report = RunReport(self.recipe)

    @property
    def log(self):
        return run_logger()

    def resource(self, name: str) -> Any:
        """What a step declared in its `needs`: the run's Dask runtime, LLM client or step cache."""
        resources = {"dask": self.dask, "client": self.llm, "cache": self.cache}
        if name not in resources:
            raise KeyError(f"a step needs {name!r}; the run provides {', '.join(resources)}")
        return resources[name]

    def inputs_hash(self, paths: list[Path]) -> str:
        """The content hash of the input files, computed once per run for the same files. The files'
        states (`file_states`) are taken before and after hashing, and again after the step that
        reads them under this hash: a file written meanwhile stops the run before its output is
        cached, so a key never names bytes other than those the run read."""
        key = tuple(str(p) for p in paths)
        if key not in self._fingerprints:
            before = file_states(list(paths))
            fingerprint = inputs_fingerprint(list(paths))
            self._check_unchanged(list(paths), before, "hashed")
            self._fingerprints[key] = fingerprint
            self._states[fingerprint] = (list(paths), before)
        return self._fingerprints[key]

    @staticmethod
    def _check_unchanged(paths: list[Path], before: dict, doing: str) -> None:
        name = changed_input(before, file_states(paths))
        if name is not None:
            from schemas.errors import InputFileError

            raise InputFileError(
                name,
                f"changed while this run {doing} it (size, time or inode moved); nothing of it was cached: "
                "run again once the file is complete",
            )

    def read(self, step: Step, paths: list[Path], identity: str | None = None) -> pl.DataFrame:
        """Run a reading step on the input files (a one-column `path` table); its cache key is the
        files' names as given and content hashes (`inputs_fingerprint`), or `identity` (e.g. a Hub
        dataset name)."""
        frame = pl.DataFrame({"path": [str(p) for p in paths]}, schema={"path": pl.String})
        return self.apply(step, frame, inputs_hash=identity or self.inputs_hash(paths))

    def lineage(self, *frames: pl.DataFrame, since: pl.DataFrame | None = None) -> list[dict]:
        """The provenance entries of the steps that made `frames` (outputs of `apply`, `chain` or
        `read` in this run), in order, each step once; with `since`, the steps that made `since` are
        left out. Records carry it, so a recipe names no step by string."""
        entries: list[dict] = []
        for frame in frames:
            entries += self._made(frame).lineage
        if since is not None:
            before = {e["step"] for e in self._made(since).lineage}
            entries = [e for e in entries if e["step"] not in before]
        seen: set[str] = set()
        return [e for e in entries if not (e["step"] in seen or seen.add(e["step"]))]

    def _output(self, frame: pl.DataFrame) -> _Made | None:
        """What made `frame` in this run, if it is a step output as returned (ids are reused once a
        frame is gone: the weak reference tells)."""
        made = self._outputs.get(id(frame))
        return made if made is not None and made.frame() is frame else None

    def _made(self, frame: pl.DataFrame) -> _Made:
        made = self._output(frame)
        if made is None:
            raise TypeError(
                "ctx.lineage takes the frames that ctx.apply, ctx.chain or ctx.read returned in this run; "
                "a frame derived from one (filtered, joined) has no lineage of its own: pass the step's output"
            )
        return made

    def _remember(self, frame: pl.DataFrame, key: str | None, lineage: list[dict]) -> None:
        self._outputs[id(frame)] = _Made(weakref.ref(frame), key, lineage)
        weakref.finalize(frame, self._outputs.pop, id(frame), None)

    def _identity(self, data: pl.DataFrame, inputs_hash: str | None) -> str:
        """The input identity of a step on `data` for its cache key: a step output of this run, passed
        as it was returned, is named by that step's key (chained keys: its data is never hashed, and
        never read from the cache when the next step's output is there); any other frame by the hash
        of its content."""
        made = self._output(data)
        return inputs_hash or (chain_key(made.key) if made is not None and made.key else None) or frame_hash(data)

    def apply(self, step: Step, data: pl.DataFrame, inputs_hash: str | None = None) -> pl.DataFrame:
        """Run `step` on `data` (or take its cached output), account for it, return the kept rows."""
        result = self.apply_result(step, data, inputs_hash)
        return result.data

    def chain(self, steps: list[Step], data: pl.DataFrame, inputs_hash: str | None = None) -> pl.DataFrame:
        """Run steps in sequence, each on the previous one's output, and return the last output (as
        `apply` one after the other: keys are chained, so a rerun after a kill in the last step reads
        one cached table, not every step's)."""
        for n, step in enumerate(steps):
            data = self.apply(step, data, inputs_hash if n == 0 else None)
        return data

    def _account(self, result: StepResult, step: Step) -> None:
        self.provenance[step.name] = step.provenance()
        self.report.add(result.account, result.quarantine)
        a = result.account
        self.log.info(
            "step %s: in=%d kept=%d dropped=%s quarantined=%d",
            a.name,
            a.rows_in,
            a.kept,
            a.dropped or "{}",
            a.quarantined,
        )

    def apply_result(self, step: Step, data: pl.DataFrame, inputs_hash: str | None = None) -> StepResult:
        step.setup(self)
        made = self._output(data)
        before = made.lineage if made is not None else []
        key = step_key(step, self._identity(data, inputs_hash)) if self.cache else None
        result = self.cache.load(step.name, key, with_data=False) if self.cache else None
        if result is not None:
            self.log.info("step %s: output found in cache (%s), not recomputed", step.name, key[:12])
            _show_cached_task(step, key, result)
            result.data = deferred(self.cache, step.name, key)  # read when first used, if ever
        else:
            result = _run_step_task(step, data)
            if inputs_hash in self._states:  # the step read the input files: were they the ones hashed?
                self._check_unchanged(*self._states[inputs_hash], "read")
            fault_point(step.name)  # work done, not yet saved: the worst moment to be killed
            if self.cache:
                self.cache.store(step.name, key, result)
        self._account(result, step)
        if result.data is data:  # a step that kept its input as it was: its output is a frame of its own
            result.data = data.clone()  # (cheap: the columns are shared), so each frame has one lineage
        self._remember(result.data, key, [*before, step.provenance()])
        return result


@dataclass
class _Made:
    frame: weakref.ref  # the output frame (a weak reference: ids are reused once it is gone)
    key: str | None  # its cache key (None without a cache)
    lineage: list[dict]  # the provenance entries of the steps that made it, in order


class Deferred(pl.DataFrame):
    """A step's output found in the cache, read from it when first used: a later step whose own output
    is cached never needs it, so resuming a run reads the last finished step's table only. Everything
    polars does with a DataFrame goes through its `_df`, which is loaded on first access."""

    def __getattr__(self, name: str) -> Any:
        if name != "_df":
            raise AttributeError(name)
        cache, step_name, key = self.__dict__["_source"]
        loaded = cache.load_data(step_name, key)._df
        object.__setattr__(self, "_df", loaded)
        return loaded


def deferred(cache: StepCache, step_name: str, key: str) -> pl.DataFrame:
    frame = pl.DataFrame.__new__(Deferred)
    frame.__dict__["_source"] = (cache, step_name, key)
    return frame


def fault_point(name: str) -> None:
    """Fault injection for the kill-and-resume tests and bench/resume: with
    CURATE_FAULT_PAUSE_AT=<name>, write CURATE_FAULT_FILE and wait there to be killed."""
    if os.environ.get("CURATE_FAULT_PAUSE_AT") != name:
        return
    marker = os.environ.get("CURATE_FAULT_FILE")
    if marker:
        Path(marker).write_text(str(os.getpid()))
    time.sleep(float(os.environ.get("CURATE_FAULT_SECONDS", "120")))


def chain_key(previous_key: str) -> str:
    """The input identity of a step whose input is another step's cached output: that step's key.
    Steps are deterministic, so this names the same content as hashing the frame would, without
    loading it."""
    return f"after:{previous_key}"


def _run_step_task(step: Step, data: pl.DataFrame) -> StepResult:
    """Run a step as a Prefect task when inside a flow, so it shows in the UI with its logs."""
    from prefect.context import FlowRunContext

    if FlowRunContext.get() is None:
        return step.run(data)
    from prefect import task
    from prefect.cache_policies import NO_CACHE

    # Our own content cache (pipelines/engine/cache.py) decides what is recomputed; Prefect's is off.
    runner = task(name=step.name, cache_policy=NO_CACHE, persist_result=False)(_call_run)
    outcome = runner(step, data)
    if isinstance(outcome, _Expected):
        raise outcome.error  # outside the task: the flow turns it into one line, no traceback
    return outcome


def _show_cached_task(step: Step, key: str, cached: StepResult) -> None:
    """A step served from our cache still appears in the run graph: inside a flow, a task run named
    after the step ends in Prefect's own cache-hit state (Completed, named "Cached"), its message
    the cache key and the step's account. Outside a flow, nothing to show."""
    from prefect.context import FlowRunContext

    if FlowRunContext.get() is None:
        return
    from prefect import task
    from prefect.cache_policies import NO_CACHE

    a = cached.account
    message = (
        f"output found in the step cache ({key[:12]}), not recomputed: in={a.rows_in} kept={a.kept} "
        f"dropped={sum(a.dropped.values())} quarantined={a.quarantined}"
    )
    task(name=step.name, cache_policy=NO_CACHE, persist_result=False)(_cached_state)(message)


def _cached_state(message: str):
    from prefect.states import Completed

    return Completed(name="Cached", message=message)  # a returned state becomes the task run's final state


@dataclass
class _Expected:
    error: CurateError


def _call_run(step: Step, data: pl.DataFrame) -> StepResult | _Expected:
    try:
        return step.run(data)
    except CurateError as e:  # an expected failure: Prefect would log it with a traceback
        # at the error's own level: a step over the LLM budget sent nothing, and its recipe decides
        run_logger().log(getattr(e, "log_level", logging.ERROR), "step %s: %s", step.name, e)
        return _Expected(e)
