"""One Reader interface over the readers of sources/: each turns a file into a FileRead (rows with
their origin, quarantined rows, dropped counts, facts), checks a file before a run, and reads many
files in input order; the reading steps use them and their code version covers the reader's code."""

from __future__ import annotations

import importlib

import polars as pl
import pytest

from schemas.errors import InputFileError
from schemas.quarantine import QUARANTINE_SCHEMA
from sources.benchmarks import BenchmarkReader
from sources.files import input_name
from sources.instruments import ItemTableReader
from sources.ipip import ResponsesReader
from sources.jsonl import PersonaPromptReader
from sources.reader import FileRead, Reader
from sources.reddit.dumps import DumpFilter
from sources.reddit.parallel import DumpReader
from sources.survey import MicrodataReader, load_codebook, make_plan
from tests.conftest import REPO

SAMPLES = REPO / "sources" / "samples"


def _plan():
    data = sorted((SAMPLES / "values").glob("values_w*"))
    return make_plan(
        load_codebook(SAMPLES / "values" / "codebook.yaml"), SAMPLES / "values" / "codebook.yaml", data
    ), data


def _readers():
    plan, data = _plan()
    return [
        (
            ResponsesReader(),
            sorted((SAMPLES / "personality").glob("ipip*")) + [SAMPLES / "personality" / "IPIP120.dat"],
        ),
        (MicrodataReader(plan), data),
        (ItemTableReader(), [SAMPLES / "expand" / "items.csv"]),
        (DumpReader(DumpFilter(("AmItheAsshole",))), sorted((SAMPLES / "norms").glob("R[SC]_*.zst"))),
        (
            PersonaPromptReader(),
            [SAMPLES / "preferences" / "personas.jsonl", SAMPLES / "preferences" / "prompts.jsonl"],
        ),
        # a local copy of a Hub dataset: `datasets` loads a folder (or a set of data files) as one dataset
        (BenchmarkReader(), [SAMPLES / "translate" / "moral_stories"]),
    ]


@pytest.mark.parametrize("reader,paths", _readers(), ids=lambda x: type(x).__name__ if isinstance(x, Reader) else "")
def test_each_reader_reads_the_shipped_samples_through_the_interface(reader, paths):
    assert isinstance(reader, Reader) and reader.what
    for name in reader.modules:  # real modules: the reading step's code version hashes them
        importlib.import_module(name)
    assert "sources.reader" in reader.modules and type(reader).__module__ in reader.modules
    for path in paths:
        reader.check(path)
    reads = reader.read_all(paths)
    # input order; files named as records name them (the path as given; the shipped samples by their
    # place in the project)
    assert [r.path for r in reads] == [input_name(p) for p in paths]
    assert all(r.path.startswith("sources/samples/") for r in reads)
    for path, read in zip(paths, reads):
        assert isinstance(read, FileRead) and read.rows.height > 0
        assert read.quarantine.schema == pl.Schema(QUARANTINE_SCHEMA)
        assert read.rows_in == read.rows.height + sum(read.dropped.values()) + read.quarantine.height
        single = reader.read(path)  # one file alone gives the same rows
        assert single.rows.equals(read.rows) and single.dropped == read.dropped


def test_facts_and_filters():
    reads = ResponsesReader().read_all([SAMPLES / "personality" / "IPIP120.dat"])
    assert reads[0].facts == {"format": "fixed", "instrument": 120, "keyed_at_source": True}
    dumps = sorted((SAMPLES / "norms").glob("R[SC]_*.zst"))
    everything = DumpReader().read_all(dumps)
    one_sub = DumpReader(DumpFilter(("AmItheAsshole",))).read_all(dumps)
    for a, b in zip(everything, one_sub):
        assert a.facts["kind"] in ("submission", "comment") and a.facts["lines"] == b.facts["lines"]
        assert a.rows_in == b.rows_in and b.rows.height <= a.rows.height
    assert [b.dropped for b in one_sub] == [{"other_subreddit": 7}, {"other_subreddit": 4}]
    prompts = PersonaPromptReader().read(SAMPLES / "preferences" / "prompts.jsonl")
    assert set(prompts.rows["kind"]) == {"prompt"} and prompts.quarantine["row"].to_list() == [2]
    assert prompts.quarantine["step"].is_null().all()  # the reading step names itself


def test_benchmark_files_are_read_as_one_dataset(tmp_path):
    """`datasets` loads several data files as one dataset: one FileRead for the set, named by all its
    files, rows numbered across them (as the translate recipe's records always had)."""
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text('{"ID": "1", "norm": "x"}\n{"ID": "2", "norm": "y"}\n')
    b.write_text('{"ID": 3, "norm": "z"}\n')
    reads = BenchmarkReader().read_all([a, b])
    assert len(reads) == 1 and reads[0].path == f"{input_name(a)},{input_name(b)}"
    rows = reads[0].rows
    assert rows["_row"].to_list() == [1, 2, 3] and rows["ID"].to_list() == ["1", "2", "3"]
    assert set(rows["_file"]) == {reads[0].path}
    with pytest.raises(InputFileError, match="one format"):
        BenchmarkReader().read_all([a, tmp_path / "c.csv"])


@pytest.mark.parametrize(
    "reader,suffix",
    [
        (ResponsesReader(), ".json"),
        (ItemTableReader(), ".xlsx"),
        (DumpReader(), ".zst"),
        (BenchmarkReader(), ".xlsx"),
        (BenchmarkReader(), ".parquet"),
    ],
)
def test_check_rejects_a_wrong_file_naming_it(reader, suffix, tmp_path):
    bad = tmp_path / f"wrong{suffix}"
    bad.write_text("not what it expects\n")
    with pytest.raises(InputFileError, match="wrong"):
        reader.check(bad)


def test_the_reading_steps_use_the_readers_and_hash_their_code():
    from pipelines.recipes.expand.steps import ReadItems
    from pipelines.recipes.norms.steps import ReadDumps
    from pipelines.recipes.personality.steps import ReadResponses
    from pipelines.recipes.preferences.steps import ReadRecords
    from pipelines.recipes.translate.steps import LoadSource
    from pipelines.recipes.values.steps import ReadMicrodata

    for step, reader in [
        (ReadResponses, ResponsesReader),
        (ReadMicrodata, MicrodataReader),
        (ReadItems, ItemTableReader),
        (ReadDumps, DumpReader),
        (ReadRecords, PersonaPromptReader),
        (LoadSource, BenchmarkReader),
    ]:
        assert set(reader.modules) <= set(step.depends_on), step.__name__
