"""Steps and their accounts.

A step takes a table and returns a table plus an account of its rows: in = kept + dropped by reason
+ quarantined. Steps are small classes with one `run` method (datatrove's shape); their configuration
is a pydantic model so that it can be hashed into the cache key and written into provenance.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
from dataclasses import dataclass, field
from typing import Any, ClassVar

import polars as pl
from pydantic import BaseModel

from schemas.envelope import provenance_entry
from schemas.quarantine import empty_quarantine, quarantine_frame

DROP_REASON = "_drop_reason"


@dataclass
class Account:
    """Where every row of a step went."""

    name: str
    rows_in: int
    kept: int
    dropped: dict[str, int] = field(default_factory=dict)
    quarantined: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. token usage, cluster stats

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        total = self.kept + sum(self.dropped.values()) + self.quarantined
        if total != self.rows_in:
            raise AssertionError(
                f"step {self.name!r} lost rows: in={self.rows_in} but kept={self.kept} "
                f"+ dropped={self.dropped} + quarantined={self.quarantined} = {total}"
            )

    def to_dict(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "in": self.rows_in,
            "kept": self.kept,
            "dropped": dict(sorted(self.dropped.items())),
            "quarantined": self.quarantined,
        }
        if self.extra:
            out["extra"] = self.extra
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Account:
        return cls(d["name"], d["in"], d["kept"], d["dropped"], d["quarantined"], d.get("extra", {}))


@dataclass
class StepResult:
    data: pl.DataFrame
    account: Account
    quarantine: pl.DataFrame = field(default_factory=empty_quarantine)
    dropped_rows: pl.DataFrame | None = None  # the dropped rows with their reason, when a step keeps them


class StepConfig(BaseModel):
    """Base for step configuration; frozen so that a cache key cannot go stale mid-run.
    `not_in_key` names options that cannot change a step's output (where a cache lives, batch
    sizes): they stay out of the cache key and the provenance, at any depth of nesting."""

    model_config = {"frozen": True, "extra": "forbid"}
    not_in_key: ClassVar[frozenset[str]] = frozenset()


def key_params(config: BaseModel) -> dict[str, Any]:
    """`config` as JSON without the `not_in_key` options of it and of the configs nested in it."""
    return _prune(config, config.model_dump(mode="json"))


def _prune(config: BaseModel, dumped: dict[str, Any]) -> dict[str, Any]:
    for name in type(config).model_fields:
        value = getattr(config, name)
        if name in getattr(config, "not_in_key", ()):
            dumped.pop(name, None)
        elif isinstance(value, BaseModel) and isinstance(dumped.get(name), dict):
            _prune(value, dumped[name])
    return dumped


class Step:
    """One transformation of a table. Subclasses set `name` and implement `run`.

    What a step needs from the run (`needs`: "dask" for the run's DaskRuntime, "client" for its LLM
    client, "cache" for its StepCache) is handed to it by the runtime through `setup(ctx)` before it
    runs, as attributes of those names; a step never reaches for them itself."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"  # bump when the output for the same input changes
    needs: ClassVar[tuple[str, ...]] = ()
    depends_on: ClassVar[tuple[str, ...]] = ()  # other modules whose code decides the output

    def __init__(self, config: StepConfig | None = None):
        self.config = config or StepConfig()
        for need in self.needs:
            setattr(self, need, None)

    def setup(self, ctx: Any) -> None:
        """Take what the step needs from the run context (see `needs`)."""
        for need in self.needs:
            setattr(self, need, ctx.resource(need))

    def run(self, data: pl.DataFrame) -> StepResult:  # pragma: no cover - interface
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        return key_params(self.config)

    def provenance_params(self) -> dict[str, Any]:
        """The options written into each record's provenance (by default, those in the cache key)."""
        return self.params()

    def provenance(self) -> dict:
        """This step's entry in the provenance of the records it contributed to."""
        return provenance_entry(self.name, self.code_version(), self.provenance_params())

    def code_version(self) -> str:
        """The step's declared version and a hash of the source of the modules its code lives in: the
        module of its class and of each base class up to `Step`, and the modules it names in
        `depends_on`. Editing a module-level helper a step calls then invalidates its cached outputs,
        as editing the class does."""
        modules = {cls.__module__ for cls in type(self).__mro__ if issubclass(cls, Step) and cls is not Step}
        modules |= set(self.depends_on)
        h = hashlib.blake2b(digest_size=8)
        for name in sorted(modules):
            h.update(name.encode() + b"\0" + module_source_hash(name).encode())
        return f"{self.version}+{h.hexdigest()}"


def module_source_hash(name: str) -> str:
    """A hash of a module's source file, taken once per loaded module: the code that runs is the code
    that was loaded, even if the file is edited later in a long-running process."""
    module = sys.modules.get(name) or importlib.import_module(name)
    cached = module.__dict__.get(_HASH_ATTR)
    if cached is None:
        path = getattr(module, "__file__", None)
        if path and os.path.exists(path):
            with open(path, "rb") as f:
                cached = hashlib.blake2b(f.read(), digest_size=8).hexdigest()
        else:
            cached = "no-source"
        module.__dict__[_HASH_ATTR] = cached
    return cached


_HASH_ATTR = "__curate_source_hash__"


def split_by_reason(
    name: str,
    data: pl.DataFrame,
    reason: pl.Expr,
    quarantine: pl.DataFrame | None = None,
    quarantined_in: int = 0,
) -> StepResult:
    """Keep the rows whose `reason` is null; count the others by reason (a filter step's tail).

    `quarantined_in` is the number of input rows already removed into `quarantine` before `data`.
    """
    tagged = data.with_columns(reason.alias(DROP_REASON))
    kept = tagged.filter(pl.col(DROP_REASON).is_null()).drop(DROP_REASON)
    dropped_rows = tagged.filter(pl.col(DROP_REASON).is_not_null())
    counts = dropped_rows.group_by(DROP_REASON).len()
    dropped = {r: int(n) for r, n in counts.iter_rows()}
    q = quarantine if quarantine is not None else empty_quarantine()
    account = Account(name, data.height + quarantined_in, kept.height, dropped, quarantined_in)
    return StepResult(kept, account, quarantine_frame(q, step=name), dropped_rows)
