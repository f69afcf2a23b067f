"""The step runner: accounting, the content cache, chained keys and lazy loading of cached outputs."""

from __future__ import annotations

import polars as pl
import pytest

from pipelines.engine.cache import StepCache
from pipelines.engine.runtime import RunContext
from pipelines.engine.steps import Account, Step, StepConfig, StepResult, split_by_reason


class AddConfig(StepConfig):
    amount: int = 1


class Add(Step):
    name = "add"
    runs = 0

    def __init__(self, config: AddConfig | None = None):
        super().__init__(config or AddConfig())

    def run(self, data):
        type(self).runs += 1
        return StepResult(
            data.with_columns(pl.col("x") + self.config.amount), Account(self.name, data.height, data.height)
        )


class DropOdd(Step):
    name = "drop_odd"
    runs = 0

    def run(self, data):
        type(self).runs += 1
        return split_by_reason(self.name, data, pl.when(pl.col("x") % 2 == 1).then(pl.lit("odd")))


def test_account_identity_is_enforced():
    with pytest.raises(AssertionError, match="lost rows"):
        Account("s", 10, 5, {"a": 2}, 1)


def test_chain_recomputes_only_what_changed_and_loads_only_what_it_needs(tmp_path, monkeypatch):
    data = pl.DataFrame({"x": list(range(10))})
    Add.runs = DropOdd.runs = 0
    first = RunContext("t", tmp_path, cache=StepCache(tmp_path / "c")).chain([Add(), DropOdd()], data)
    assert first["x"].to_list() == [2, 4, 6, 8, 10]

    loads = []
    original = StepCache.load_data
    monkeypatch.setattr(StepCache, "load_data", lambda self, *a: loads.append(a[0]) or original(self, *a))
    ctx = RunContext("t", tmp_path, cache=StepCache(tmp_path / "c"))
    again = ctx.chain([Add(), DropOdd()], data)
    assert again.equals(first) and (Add.runs, DropOdd.runs) == (1, 1)
    assert loads == ["drop_odd"]  # add's cached output was never read
    assert [a.to_dict()["dropped"] for a in ctx.report.accounts] == [{}, {"odd": 5}]

    ctx = RunContext("t", tmp_path, cache=StepCache(tmp_path / "c"))
    changed = ctx.chain([Add(), DropOdd()], pl.DataFrame({"x": [1, 2]}))  # new input: both rerun
    assert changed["x"].to_list() == [2] and (Add.runs, DropOdd.runs) == (2, 2)
    ctx = RunContext("t", tmp_path, cache=StepCache(tmp_path / "c"))
    ctx.chain([Add(AddConfig(amount=3)), DropOdd()], data)  # new config: both rerun
    assert (Add.runs, DropOdd.runs) == (3, 3)


def test_apply_after_apply_chains_keys_and_resume_reads_only_the_last_step(tmp_path, monkeypatch):
    """Every recipe gets chained keys, not only those that call `chain`: a step output passed on as it
    was returned is named by its key, so a rerun reads the last finished step's table only."""
    data = pl.DataFrame({"x": list(range(10))})
    Add.runs = DropOdd.runs = 0
    ctx = RunContext("t", tmp_path, cache=StepCache(tmp_path / "c"))
    first = ctx.apply(DropOdd(), ctx.apply(Add(), data))
    loads = []
    original = StepCache.load_data
    monkeypatch.setattr(StepCache, "load_data", lambda self, *a: loads.append(a[0]) or original(self, *a))
    ctx = RunContext("t", tmp_path, cache=StepCache(tmp_path / "c"))
    added = ctx.apply(Add(), data)
    again = ctx.apply(DropOdd(), added)
    assert loads == [] and (Add.runs, DropOdd.runs) == (1, 1)  # nothing read yet: outputs are read on use
    assert again.equals(first) and loads == ["drop_odd"]  # add's cached output was never read
    assert added.height == 10 and loads == ["drop_odd", "add"]  # ... until it is used
    # a frame derived from a step output is named by its content (a key of its own: computed once)
    for expected in (2, 2):
        ctx = RunContext("t", tmp_path, cache=StepCache(tmp_path / "c"))
        ctx.apply(DropOdd(), ctx.apply(Add(), data).filter(pl.lit(True)))
        assert (Add.runs, DropOdd.runs) == (1, expected)


def test_lineage_is_carried_with_the_frames(tmp_path):
    for cache in (None, StepCache(tmp_path / "c")):
        ctx = RunContext("t", tmp_path, cache=cache)
        data = pl.DataFrame({"x": list(range(6))})
        added = ctx.apply(Add(), data)
        kept = ctx.apply(DropOdd(), added)
        assert [e["step"] for e in ctx.lineage(kept)] == ["add", "drop_odd"]
        assert [e["step"] for e in ctx.lineage(kept, since=added)] == ["drop_odd"]
        assert [e["step"] for e in ctx.lineage(added, kept)] == ["add", "drop_odd"]  # each step once
        assert ctx.lineage(kept)[1] == DropOdd().provenance()
        other = ctx.apply(DropOdd(), kept.filter(pl.col("x") > 2))  # derived: its lineage starts again
        assert [e["step"] for e in ctx.lineage(other)] == ["drop_odd"]
        with pytest.raises(TypeError, match="a frame derived from one"):
            ctx.lineage(kept.filter(pl.col("x") > 2))


# -- code versions -------------------------------------------------------------------------------

STEP_MODULE = """
import polars as pl
from pipelines.engine.steps import Account, Step, StepResult


def helper(x):
    return x + {amount}


class Helped(Step):
    name = "helped"

    def run(self, data):
        return StepResult(data.with_columns(helper(pl.col("x"))), Account(self.name, data.height, data.height))
"""


def _load_step(folder, amount: int, monkeypatch):
    import importlib
    import sys

    path = folder / "helped_step.py"
    path.write_text(STEP_MODULE.format(amount=amount))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # same size, same second: a stale .pyc would load
    monkeypatch.syspath_prepend(str(folder))
    sys.modules.pop("helped_step", None)
    importlib.invalidate_caches()
    module = importlib.import_module("helped_step")
    return module.Helped()


def test_code_version_covers_the_module_a_step_lives_in(tmp_path, monkeypatch):
    """Editing a module-level helper the step calls (not the class) gives a new code version, so a
    cached output made by the old helper is not reused."""
    cache = StepCache(tmp_path / "cache")
    frame = pl.DataFrame({"x": [1, 2]})
    before = _load_step(tmp_path, 1, monkeypatch)
    key_before = before.code_version()
    assert RunContext("t", tmp_path, cache=cache).apply(before, frame)["x"].to_list() == [2, 3]
    same = _load_step(tmp_path, 1, monkeypatch)
    assert same.code_version() == key_before  # the same source: the same version
    after = _load_step(tmp_path, 2, monkeypatch)
    assert after.code_version() != key_before
    assert RunContext("t", tmp_path, cache=cache).apply(after, frame)["x"].to_list() == [3, 4]  # not the stale output


def test_code_version_covers_declared_dependencies(tmp_path, monkeypatch):
    from pipelines.engine.steps import module_source_hash
    from pipelines.recipes.personality.steps import KeyAndScore

    step = KeyAndScore()
    version = step.code_version()
    monkeypatch.setattr(type(step), "depends_on", ("pipelines.methods.inventory",))  # one module fewer
    assert step.code_version() != version
    assert module_source_hash("pipelines.methods.inventory") != module_source_hash("sources.ipip")


# -- input identity ------------------------------------------------------------------------------


class ReadNames(Step):
    name = "read_names"
    runs = 0

    def run(self, data):
        type(self).runs += 1
        frame = pl.DataFrame({"file": [p.rsplit("/", 1)[-1] for p in data["path"]]})
        return StepResult(frame, Account(self.name, frame.height, frame.height))


def test_a_renamed_input_is_a_new_input_for_the_cache(tmp_path):
    """Records name an input by its path as given, so the read step's cache key is the name as given
    plus the content hash: the same bytes under another name are read again, not served with the
    old name from the cache."""
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("same bytes\n")
    b.write_text("same bytes\n")
    ReadNames.runs = 0

    def read(path):
        return RunContext("t", tmp_path, cache=StepCache(tmp_path / "c")).read(ReadNames(), [path])

    assert read(a)["file"].to_list() == ["a.txt"]
    assert read(a)["file"].to_list() == ["a.txt"] and ReadNames.runs == 1  # same name, same bytes: cached
    assert read(b)["file"].to_list() == ["b.txt"] and ReadNames.runs == 2  # renamed: read again
    a.write_text("other bytes\n")
    assert read(a)["file"].to_list() == ["a.txt"] and ReadNames.runs == 3  # changed: read again


class ReadLines(Step):
    """Reads the files of a `path` table; `writer` (a test hook) rewrites a file while it reads."""

    name = "read_lines"
    writer = None

    def run(self, data):
        rows = []
        for path in data["path"].to_list():
            text = open(path, encoding="utf-8").read()
            if type(self).writer:
                type(self).writer(path)
            rows += text.split()
        out = pl.DataFrame({"x": [int(r) for r in rows]})
        return StepResult(out, Account(self.name, out.height, out.height))


def test_an_input_written_while_the_run_reads_it_is_never_cached_under_the_old_bytes(tmp_path):
    """The cache-poisoning case: the key hashes content A, the reader sees content B. The run stops
    with one line naming the file, nothing is stored, and a later run on A computes A's rows."""
    from schemas.errors import InputFileError

    src = tmp_path / "in.txt"
    src.write_text("1 2 3\n", encoding="utf-8")
    cache = StepCache(tmp_path / "c")

    def replace_with_b(path):
        (tmp_path / "b.txt").write_text("7 8 9\n", encoding="utf-8")
        (tmp_path / "b.txt").replace(path)  # atomically, as an editor or a sync tool does

    ReadLines.writer = staticmethod(replace_with_b)
    try:
        ctx = RunContext("t", tmp_path, cache=cache)
        with pytest.raises(InputFileError, match=r"in\.txt: changed while this run read it"):
            ctx.read(ReadLines(), [src])
    finally:
        ReadLines.writer = None
    assert not list((tmp_path / "c").glob("steps/read_lines/*/account.json"))  # nothing cached

    src.write_text("1 2 3\n", encoding="utf-8")  # content A again: computed, not served B
    assert RunContext("t", tmp_path, cache=cache).read(ReadLines(), [src])["x"].to_list() == [1, 2, 3]
    # in place (same inode, same size, an append of nothing but a rewrite): still seen
    ReadLines.writer = staticmethod(lambda path: open(path, "w", encoding="utf-8").write("4 5 6\n"))
    try:
        src.write_text("3 2 1\n", encoding="utf-8")
        with pytest.raises(InputFileError, match="changed while this run read it"):
            RunContext("t", tmp_path, cache=cache).read(ReadLines(), [src])
    finally:
        ReadLines.writer = None
    # a file that stays put: read, cached, then served from the cache
    src.write_text("5 5\n", encoding="utf-8")
    assert RunContext("t", tmp_path, cache=cache).read(ReadLines(), [src])["x"].to_list() == [5, 5]
    ctx = RunContext("t", tmp_path, cache=cache)
    assert ctx.read(ReadLines(), [src])["x"].to_list() == [5, 5]
    assert ctx.report.accounts[-1].name == "read_lines"
