"""Benchmark datasets read with `datasets.load_dataset` (the translate recipe's source): a local
copy of a Hub repository (a folder), data files in a format `datasets` reads, or a Hub dataset.

`datasets` loads several data files as ONE dataset (rows numbered across the files, named together
as `a.jsonl,b.jsonl`), so `BenchmarkReader.read_all` reads the set and gives one `FileRead` for it;
`read` of one file or folder is the set of one. Every row keeps its origin: `_file` (the input's
name, or the Hub dataset's) and `_row` (from 1, across the set).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import polars as pl

from schemas.errors import CurateError, InputFileError
from sources.files import input_name
from sources.reader import FileRead, Reader
from sources.tables import arrow_frame, check_data_files

BUILDERS = {".parquet": "parquet", ".json": "json", ".jsonl": "json", ".csv": "csv", ".arrow": "arrow"}


class BenchmarkReader(Reader):
    what = "benchmark dataset (a Hub dataset folder or data files)"
    modules: ClassVar[tuple[str, ...]] = ("sources.reader", "sources.benchmarks", "sources.files", "sources.tables")

    def __init__(self, hub_dataset: str | None = None, hub_config: str | None = None, split: str = "train"):
        self.hub_dataset, self.hub_config, self.split = hub_dataset, hub_config, split

    def check(self, path: Path) -> None:
        """A folder (a local copy of a Hub repository) is `datasets`' to read; a data file must be of
        a format it reads and open as what its name says."""
        path = Path(path)
        if path.is_dir():
            return
        if path.suffix.lower() not in BUILDERS:
            raise InputFileError(path, f"expected data files of a dataset ({', '.join(BUILDERS)}), got {path.suffix!r}")
        check_data_files([path])

    def read(self, path: Path) -> FileRead:
        return self.read_all([path])[0]

    def read_all(self, paths: list[Path], dask=None) -> list[FileRead]:
        """The set as one dataset (one FileRead); `dask` is not used: `datasets` loads the set itself."""
        paths = [Path(p) for p in paths]
        import datasets

        try:
            if self.hub_dataset:
                ds = datasets.load_dataset(self.hub_dataset, self.hub_config, split=self.split)
                origin = self.hub_dataset
            elif len(paths) == 1 and paths[0].is_dir():
                ds = datasets.load_dataset(str(paths[0]), self.hub_config, split=self.split)
                origin = input_name(paths[0])
            else:
                suffixes = {p.suffix.lower() for p in paths}
                builder = {BUILDERS.get(s) for s in suffixes}
                if len(builder) != 1 or None in builder:
                    raise InputFileError(
                        paths[0], f"expected data files of one format ({', '.join(BUILDERS)}), got {sorted(suffixes)}"
                    )
                ds = datasets.load_dataset(builder.pop(), data_files=[str(p) for p in paths], split="train")
                origin = ",".join(input_name(p) for p in paths)
        except (FileNotFoundError, ValueError, datasets.exceptions.DatasetNotFoundError) as e:
            raise CurateError(f"cannot load the source dataset: {str(e).splitlines()[0]}") from None
        frame = arrow_frame(ds.data.table)  # JSON columns of mixed types (ids 1 and "a1") as text
        rows = frame.with_columns(
            pl.lit(origin).alias("_file"), pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("_row")
        )
        return [FileRead(origin, rows, facts={"files": len(paths), "rows": rows.height})]
