"""The one interface of the readers in `sources/`: a `Reader` turns one input file into a `FileRead`,
and says what is wrong with a file before a run starts.

A `FileRead` is what a file gave: its rows (every value as the file wrote it, as text where the
format allows, with their origin `_file` and `_row`), the rows quarantined with the reason
(`schemas.quarantine`), the rows left out on purpose counted by reason, and facts about the file
(its format, instrument, kind, sizes). Readers raise `InputFileError` naming the file for a file
they cannot read at all.

The readers:

| reader | files | module |
|---|---|---|
| `ResponsesReader` | inventory answers: IPIP-NEO (CSV, Johnson's .dat, SPSS, Stata) and the shipped instruments | `sources.ipip` |
| `MicrodataReader(plan)` | survey microdata (CSV, SPSS, Stata) by a codebook's plan | `sources.survey` |
| `ItemTableReader` | inventory items: a CSV item table or an instrument definition (YAML) | `sources.instruments` |
| `DumpReader(keep, redact)` | Reddit dump files (zstd NDJSON), filtered while streamed | `sources.reddit.parallel` |
| `PersonaPromptReader` | personas and prompts (JSON Lines) for the preferences recipe | `sources.jsonl` |
| `BenchmarkReader(hub_dataset, hub_config, split)` | a benchmark via `datasets`: a Hub dataset folder, data files, or the Hub | `sources.benchmarks` |

Steps call `read_all(paths, dask)`: one Dask partition a file when given a `DaskRuntime`, input
order kept (`BenchmarkReader` reads its files as ONE dataset, as `datasets` does: one FileRead for
the set). A reading step names `reader.modules` in its `depends_on`, so its code version (and so
its cache key) covers the reader's code.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from schemas.quarantine import empty_quarantine
from sources.files import check_readable


@dataclass
class FileRead:
    path: str  # the file's name, as records name it
    rows: pl.DataFrame
    quarantine: pl.DataFrame = field(default_factory=empty_quarantine)
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> rows left out on purpose
    facts: dict[str, Any] = field(default_factory=dict)  # format, instrument, kind, sizes ...

    @property
    def rows_in(self) -> int:
        """Rows the file held: kept, dropped and quarantined."""
        return self.rows.height + sum(self.dropped.values()) + self.quarantine.height


class Reader(ABC):
    what: ClassVar[str]  # what it reads, for messages: "inventory answers"
    modules: ClassVar[tuple[str, ...]]  # the modules whose code decides its rows

    def check(self, path: Path) -> None:
        """Reject a wrong file before any work, naming it (cheap: a header or metadata at most)."""
        check_readable(path)

    @abstractmethod
    def read(self, path: Path) -> FileRead:
        """The whole file."""

    def read_all(self, paths: list[Path], dask=None) -> list[FileRead]:
        """Every file, one Dask partition a file on `dask` (a DaskRuntime) when given; input order kept."""
        paths = [Path(p) for p in paths]
        return dask.map(self.read, paths) if dask else [self.read(p) for p in paths]
