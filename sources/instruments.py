"""Psychometric instruments as data: one YAML definition per instrument under
`sources/data/instruments/` (items, scales and facets, keying, response scale, scoring rule, minimum
answered, and where the texts and the key come from, with their licences).

A definition:

    id: sd3                        # the name `--instrument` and the `instrument` column use
    name: Short Dark Triad (SD3)
    reference: "..."               # the publication
    texts: {shipped: false, license: "..."}   # item texts only where their licence allows
    key: {source: "...", license: "..."}      # where the key comes from (always shipped)
    response_scale: {min: 1, max: 5, missing: [0], labels: {1: ..., 5: ...}}
    scoring: {rule: mean, min_answered: 0.5}  # rule: mean | sum | centered (ipsatized, PVQ)
    column_prefix: sd3_            # item columns sd3_1..sd3_27 (or `column:` per item)
    scales:                        # top level: domains; with `parent`: facets of a domain
      - {code: MACH, name: Machiavellianism}
    items:
      - {item: 1, scale: MACH, keyed: 1, text: ...}   # keyed -1: reversed (min + max - x)
      - {item: 6, check: {fail_above: 3}}             # a catch item: not scored, checked

Loading validates the definition (every item in one scale, facets under existing domains, keys
+1/-1), so that a typo in a key fails at load time naming the file, not in a score.
"""

from __future__ import annotations

from functools import cache, cached_property
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from schemas.errors import InputFileError, validation_problems
from sources.files import input_name, read_text_table, yaml_mapping  # libyaml when present: the 300-item file in ms
from sources.reader import FileRead, Reader

DEFINITIONS = Path(__file__).parent / "data" / "instruments"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Licence(_Frozen):
    shipped: bool = True
    license: str
    source: str | None = None


class KeySource(_Frozen):
    source: str
    license: str


class ResponseScale(_Frozen):
    min: int
    max: int
    missing: tuple[int, ...] = ()  # codes that mean "no answer" (besides a blank)
    labels: dict[int, str] = {}

    @model_validator(mode="after")
    def _ordered(self) -> ResponseScale:
        if self.max <= self.min:
            raise ValueError(f"response scale max {self.max} is not above min {self.min}")
        clash = [c for c in self.missing if self.min <= c <= self.max]
        if clash:
            raise ValueError(f"missing code(s) {clash} lie inside the response scale {self.min}..{self.max}")
        return self


class Scoring(_Frozen):
    rule: Literal["mean", "sum", "centered"] = "mean"
    min_answered: float = Field(0.5, ge=0, le=1)  # of a scale's items, for its score not to be null


class Scale(_Frozen):
    code: str
    name: str
    parent: str | None = None


class Check(_Frozen):
    fail_above: int | None = None
    fail_below: int | None = None


class Item(_Frozen):
    item: int = Field(ge=1)
    scale: str | None = None
    keyed: Literal[1, -1] = 1
    column: str | None = None
    text: str | None = None
    check: Check | None = None
    note: str | None = None


class Instrument(_Frozen):
    id: str
    name: str
    reference: str
    texts: Licence
    key: KeySource
    response_scale: ResponseScale
    scoring: Scoring = Scoring()
    column_prefix: str = "i"
    scales: tuple[Scale, ...]
    items: tuple[Item, ...]

    @model_validator(mode="after")
    def _consistent(self) -> Instrument:
        codes = [s.code for s in self.scales]
        if len(set(codes)) != len(codes):
            raise ValueError(f"scale codes repeat: {sorted({c for c in codes if codes.count(c) > 1})}")
        tops = {s.code for s in self.scales if s.parent is None}
        for s in self.scales:
            if s.parent is not None and s.parent not in tops:
                raise ValueError(f"scale {s.code}: parent {s.parent!r} is not a top-level scale")
        numbers = [i.item for i in self.items]
        if sorted(numbers) != list(range(1, len(numbers) + 1)):
            raise ValueError("items must be numbered 1..N, each once")
        parents = {s.parent for s in self.scales if s.parent}
        for i in self.items:
            if (i.scale is None) == (i.check is None):
                raise ValueError(f"item {i.item}: give either a scale or a check (a catch item)")
            if i.scale is not None and i.scale not in codes:
                raise ValueError(f"item {i.item}: scale {i.scale!r} is not defined")
            if i.scale in parents:
                raise ValueError(f"item {i.item}: scale {i.scale!r} has facets; assign the item to a facet")
            if i.text is not None and not self.texts.shipped:
                raise ValueError(f"item {i.item}: has a text, but texts.shipped is false (licence)")
        columns = self.columns
        if len(set(columns)) != len(columns):
            raise ValueError("item columns repeat")
        return self

    # -- derived views ------------------------------------------------------------------------

    @cached_property
    def columns(self) -> list[str]:
        """The item columns of a data file, in item order."""
        return [(i.column or f"{self.column_prefix}{i.item}").lower() for i in self.items]

    @cached_property
    def domains(self) -> list[str]:
        return [s.code for s in self.scales if s.parent is None]

    @cached_property
    def facets(self) -> list[str]:
        return [s.code for s in self.scales if s.parent is not None]

    @cached_property
    def _parent(self) -> dict[str, str | None]:
        return {s.code: s.parent for s in self.scales}

    def domain_of(self, item: Item) -> str | None:
        if item.scale is None:
            return None
        return self._parent[item.scale] or item.scale

    def facet_of(self, item: Item) -> str | None:
        return item.scale if item.scale is not None and self._parent[item.scale] else None

    def scale_items(self, code: str) -> list[int]:
        """Item numbers of a domain (its facets' items) or of a facet."""
        return [i.item for i in self.items if code in (self.domain_of(i), self.facet_of(i))]

    @property
    def scored_items(self) -> list[Item]:
        return [i for i in self.items if i.scale is not None]

    @property
    def checks(self) -> list[Item]:
        return [i for i in self.items if i.check is not None]

    def key_frame(self) -> pl.DataFrame:
        """One row per item: instrument, item_no, column, text, domain, facet_code, facet_name,
        keyed (0 for a catch item), check."""
        names = {s.code: s.name for s in self.scales}
        rows = [
            {
                "instrument": self.id,
                "item_no": i.item,
                "column": col,
                "text": i.text,
                "domain": self.domain_of(i),
                "domain_name": names.get(self.domain_of(i) or ""),
                "facet_code": self.facet_of(i),
                "facet_name": names.get(self.facet_of(i) or ""),
                "keyed": i.keyed if i.scale is not None else 0,
                "check": None if i.check is None else _check_text(i.check),
            }
            for i, col in zip(self.items, self.columns)
        ]
        return pl.DataFrame(
            rows,
            schema={
                "instrument": pl.String,
                "item_no": pl.Int64,
                "column": pl.String,
                "text": pl.String,
                "domain": pl.String,
                "domain_name": pl.String,
                "facet_code": pl.String,
                "facet_name": pl.String,
                "keyed": pl.Int8,
                "check": pl.String,
            },
        )


def _check_text(check: Check) -> str:
    parts = []
    if check.fail_above is not None:
        parts.append(f"fails above {check.fail_above}")
    if check.fail_below is not None:
        parts.append(f"fails below {check.fail_below}")
    return ", ".join(parts)


def read_definition(path: Path | str) -> Instrument:
    """An instrument from a YAML definition file; a bad definition names the file and the field."""
    path = Path(path)
    data = yaml_mapping(path, "an instrument definition", "id, name, scales, items, ...")
    try:
        return Instrument(**data)
    except ValidationError as e:
        raise InputFileError(path, f"invalid instrument definition: {validation_problems(e, 'definition')}") from None


@cache
def shipped() -> dict[str, Instrument]:
    """The shipped definitions by id (each file is named by its id, so ids are unique)."""
    return {path.stem: _shipped_file(path.stem) for path in sorted(DEFINITIONS.glob("*.yaml"))}


@cache
def _shipped_file(name: str) -> Instrument | None:
    path = DEFINITIONS / f"{name}.yaml"
    if not path.is_file():
        return None
    inst = read_definition(path)
    if inst.id != name:
        raise InputFileError(path, f"the file of instrument {name!r} defines id {inst.id!r}")
    return inst


def instrument(name: str) -> Instrument:
    """A shipped instrument by id (`sd3`; its file is `<id>.yaml`), or a definition file by path."""
    found = _shipped_file(name) if name.replace("_", "").isalnum() else None
    if found is not None:
        return found
    if name.endswith((".yaml", ".yml")) and Path(name).exists():
        return read_definition(name)
    raise KeyError(f"unknown instrument {name!r}: shipped are {', '.join(shipped())}, or give a definition file")


def detect(columns: list[str], candidates: dict[str, Instrument] | None = None) -> list[Instrument]:
    """The instruments all of whose item columns are among `columns` (case-insensitive), the ones
    with the most items first (IPIP-NEO-300 before the 120 items it does not share)."""
    have = {c.strip().lower() for c in columns}
    found = [inst for inst in (candidates or shipped()).values() if set(inst.columns) <= have]
    return sorted(found, key=lambda inst: -len(inst.items))


def is_definition(path: Path | str) -> bool:
    return Path(path).suffix.lower() in (".yaml", ".yml")


def item_table(path: Path | str) -> pl.DataFrame:
    """An instrument definition as the `expand` recipe's item table (every value text): instrument,
    item_no, text (null where the licence keeps it out), domain (the scale's full name), facet_code,
    facet_name, keyed; catch items are left out (they measure attention, not a trait)."""
    inst = read_definition(path)
    key = inst.key_frame().filter(pl.col("keyed") != 0)
    return key.select(
        pl.lit(inst.name).alias("instrument"),
        pl.col("item_no").cast(pl.String),
        "text",
        pl.col("domain_name").alias("domain"),
        "facet_code",
        "facet_name",
        pl.col("keyed").cast(pl.String),
    )


# an item table (the `expand` recipe's input): a CSV with these columns, or a definition read as one
ITEM_COLUMNS = ["instrument", "item_no", "text", "domain", "facet_code", "facet_name", "keyed"]
REQUIRED_ITEM_COLUMNS = ("text", "domain", "keyed")


class ItemTableReader(Reader):
    """Inventory items, one a row: a CSV item table (ITEM_COLUMNS; text, domain and keyed required) or
    an instrument definition (`item_table`)."""

    what = "inventory items"
    modules = ("sources.reader", "sources.instruments", "sources.files")

    def check(self, path: Path) -> None:
        if is_definition(path):
            item_table(path)
            return
        if path.suffix.lower() not in (".csv", ".tsv"):
            raise InputFileError(
                path, f"expected a CSV of inventory items ({', '.join(ITEM_COLUMNS)}), got {path.suffix!r}"
            )
        _require_item_columns(path, read_text_table(path).columns)

    def read(self, path: Path) -> FileRead:
        frame = item_table(path) if is_definition(path) else read_text_table(Path(path))
        _require_item_columns(path, frame.columns)
        return FileRead(
            input_name(path),
            frame.with_columns(
                pl.lit(input_name(path)).alias("_file"), pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("_row")
            ),
        )


def _require_item_columns(path: Path, columns: list[str]) -> None:
    missing = [c for c in REQUIRED_ITEM_COLUMNS if c not in columns]
    if missing:
        raise InputFileError(path, f"missing column(s) {', '.join(missing)}; expected {', '.join(ITEM_COLUMNS)}")
