"""The step runner: accounting, the content cache, chained keys and lazy loading of cached outputs."""

from __future__ import annotations

import polars as pl
import pytest

from pipelines.cache import StepCache
from pipelines.runtime import RunContext
from pipelines.steps import Account, Step, StepConfig, StepResult, split_by_reason


class AddConfig(StepConfig):
    amount: int = 1


class Add(Step):
    name = "add"
    runs = 0

    def __init__(self, config: AddConfig | None = None):
        super().__init__(config or AddConfig())

    def run(self, data):
        type(self).runs += 1
        return StepResult(data.with_columns(pl.col("x") + self.config.amount),
                          Account(self.name, data.height, data.height))


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
