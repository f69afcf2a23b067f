"""The Reddit dump reader on files written in the real format (tests/reddit_dumps.py)."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import polars as pl
import pytest
import zstandard

from schemas.errors import InputFileError
from sources.reddit.dumps import DumpFilter, check_dump, dump_kind, iter_dump, line_blocks, read_dump
from sources.reddit.writer import write_dump
from tests import reddit_dumps as fx

KEEP = DumpFilter(subreddits=("amitheasshole",))


def accounted(r) -> None:
    assert r.lines == r.rows.height + sum(r.dropped.values()) + r.quarantined


def test_submissions_with_drift_and_malformed_lines(tmp_path):
    rs, _ = fx.write_pair(tmp_path)
    r = read_dump(rs, KEEP)
    accounted(r)
    assert r.kind == "submission" and r.lines == 19
    assert r.dropped == {"other_subreddit": 1, "blank_line": 1}
    q = {row: (field, error) for row, field, error in r.quarantine.select("row", "field", "error").iter_rows()}
    assert set(q) == {7, 10, 11, 16, 19}
    assert q[7][1].startswith("not valid JSON") and q[16][1] == "not a JSON object but list"
    assert q[10][0] == "created_utc" and q[11][0] == "id" and q[19][0] == "author"
    assert set(r.quarantine["source_file"]) == {str(rs)}  # the path as given

    rows = {(row["id"], row["_line"]): row for row in r.rows.to_dicts()}
    p2 = rows[("p2", 2)]
    assert p2["created_utc"] == fx.T0 + 5 and p2["score"] is None  # string time, null score
    assert p2["edited"] is True and p2["edited_utc"] == fx.T0 + 99  # edited as a number
    assert rows[("p3", 3)]["author"] is None and rows[("p3", 3)]["author_state"] == "deleted"
    assert rows[("p4", 4)]["selftext"] is None and rows[("p4", 4)]["content_state"] == "removed"
    assert rows[("p9", 9)]["author_state"] == "absent"
    assert rows[("p14", 14)]["content_state"] == "removed"  # Arctic Shift _meta.removal_type
    assert rows[("p14", 14)]["retrieved_utc"] == fx.T0 + 1000  # _meta.retrieved_2nd_on
    p15 = rows[("p15", 15)]
    assert p15["edited"] is True and p15["edited_utc"] is None and p15["score"] == 12
    assert r.rows.schema["created_utc"] == pl.Int64


def test_frame_boundary_inside_a_multibyte_character(tmp_path):
    rs = fx.write_split_in_char(tmp_path / "RS_x.zst", fx.submissions(), marker="é")
    data = fx.encode(fx.submissions())
    first = data[: data.index("é".encode()) + 1]
    assert first.endswith(b"\xc3")  # the first frame really ends inside the character
    # tiny blocks: every decompressed chunk is cut and joined again
    r = read_dump(rs, KEEP, block_size=1)
    p1 = r.rows.filter(pl.col("id") == "p1")["selftext"][0]
    assert "Café 😀 ünïcode." in p1
    accounted(r)


def test_line_blocks_join_a_character_split_between_chunks():
    line = '{"body": "naïve 😀"}\n'.encode()
    cut = line.index("😀".encode()) + 2
    blocks = list(line_blocks(iter([line[:cut], line[cut:], line]), block_size=1))
    assert [b for b, problem in blocks if problem is None] == [line, line]
    assert orjson.loads(blocks[0][0])["body"] == "naïve 😀"


def test_truncated_final_frame_is_quarantined_and_the_rest_kept(tmp_path):
    _, rc = fx.write_pair(tmp_path, truncated=True)
    r = read_dump(rc, KEEP)
    accounted(r)
    last = r.quarantine.sort("row").row(-1, named=True)
    assert last["error"].startswith("truncated final frame") and last["row"] == 15
    assert r.rows.height == 12  # every whole line before the cut
    assert r.dropped == {}


def test_needs_the_long_window(tmp_path):
    path = write_dump(tmp_path / "RC_w.zst", [fx.comment("c1", "p1", "NTA")])
    with pytest.raises(zstandard.ZstdError):  # a reader without max_window_size=2**31 fails
        zstandard.ZstdDecompressor().stream_reader(io.BytesIO(path.read_bytes())).read(100)
    assert read_dump(path).rows["id"].to_list() == ["c1"]


def test_subreddit_and_time_filters(tmp_path):
    recs = [
        fx.post("a", t=fx.T0),
        fx.post("b", t=fx.T0 + 100),
        fx.post("c", t=fx.T0 + 200),
        fx.post("d", sub="AskReddit"),
        fx.post("e", sub="AMITHEASSHOLE", t=fx.T0 + 100),
    ]
    path = write_dump(tmp_path / "RS_f.zst", recs)
    r = read_dump(path, DumpFilter(("AmItheAsshole",), fx.T0 + 50, fx.T0 + 150))
    assert sorted(r.rows["id"]) == ["b", "e"]
    assert r.dropped == {"before_time_range": 1, "after_time_range": 1, "other_subreddit": 1}
    accounted(r)


def test_stream_yields_block_by_block(tmp_path):
    path = write_dump(
        tmp_path / "RC_s.zst", [fx.comment(f"c{i}", "p1", "NTA " * 50) for i in range(200)], frame_lines=10
    )
    parts = list(iter_dump(path, block_size=4096))
    assert len(parts) > 5
    assert [n for p in parts for n in p.rows["_line"]] == list(range(1, 201))


def test_kind_and_format_checks(tmp_path):
    plain = tmp_path / "RS_plain.zst"
    plain.write_text('{"id": "x"}\n')
    with pytest.raises(InputFileError, match="not a zstd"):
        check_dump(plain)
    odd = write_dump(tmp_path / "dump.zst", [fx.comment("c1", "p1", "x")])
    assert dump_kind(odd) == "comment"  # no RS_/RC_ name: told by its first line
    unknown = write_dump(tmp_path / "other.zst", [{"id": "1"}])
    with pytest.raises(InputFileError, match="RS_"):
        dump_kind(unknown)


@pytest.mark.integration
def test_files_in_parallel_on_dask_match_one_by_one(tmp_path):
    from pipelines.engine.dask_runtime import DaskRuntime
    from sources.reddit.parallel import read_dumps

    paths = fx.write_pair(tmp_path)
    alone = read_dumps(paths, KEEP, dask=None)
    with DaskRuntime() as dask:
        parallel = read_dumps(paths, KEEP, dask=dask)
    for a, b in zip(alone, parallel):
        assert a.rows.equals(b.rows) and a.quarantine.equals(b.quarantine) and a.dropped == b.dropped


@pytest.mark.parametrize(
    "field, value",
    [
        ("created_utc", "NaN"),
        ("created_utc", "inf"),
        ("created_utc", 1e30),
        ("created_utc", -5),
        ("score", 1e40),
        ("score", "-inf"),
        ("num_comments", -3),
        ("edited", 1e30),
        ("retrieved_on", 1e300),
    ],
)
def test_a_non_finite_or_out_of_range_number_quarantines_its_line_with_the_field(tmp_path, field, value):
    from sources.reddit.writer import write_dump
    from tests.reddit_dumps import post

    path = write_dump(tmp_path / "RS_bad.zst", [post("a1"), post("a2", **{field: value}), post("a3")])
    read = read_dump(path)
    assert read.rows["id"].to_list() == ["a1", "a3"]
    assert read.quarantine.select("row", "field").rows() == [(2, field)]
    assert read.lines == read.rows.height + read.quarantined + sum(read.dropped.values())


def _dump(path, payload: bytes, level: int = 3) -> Path:
    path.write_bytes(zstandard.ZstdCompressor(level=level).compress(payload))
    return path


def test_an_over_long_line_is_skipped_without_being_held_and_quarantined_by_its_start(tmp_path, monkeypatch):
    """A line past CURATE_MAX_LINE_BYTES is streamed past (never joined in memory), quarantined with its
    first kB and its length; the lines around it are read and every line is accounted for."""
    good = [orjson.dumps(p) for p in fx.submissions()[:3]]
    monster = b'{"id": "x", "selftext": "' + b"a" * 300_000 + b'"}'
    payload = b"\n".join([good[0], monster, good[1], good[2]]) + b"\n"
    rs = _dump(tmp_path / "RS_2023-01.zst", payload)
    monkeypatch.setenv("CURATE_MAX_LINE_BYTES", "100000")
    for block_size in (1, 1 << 20):
        r = read_dump(rs, block_size=block_size)
        accounted(r)
        assert r.lines == 4 and r.rows["id"].to_list() == [orjson.loads(g)["id"] for g in good]
        (row,) = r.quarantine.select("row", "error", "raw").iter_rows()
        assert row[0] == 2 and row[1].startswith(f"line of {len(monster):,} bytes, over the limit of 100,000")
        assert len(row[2]) <= 1024
    # the limit travels with the message; at the default (16 MiB) the line is read as any other
    monkeypatch.delenv("CURATE_MAX_LINE_BYTES")
    assert read_dump(rs).quarantine["error"].to_list() != [row[1]]


def test_a_zstd_bomb_stops_with_one_line(tmp_path, monkeypatch):
    from schemas.errors import InputFileError

    line = orjson.dumps(fx.submissions()[0]) + b"\n"
    rs = _dump(tmp_path / "RS_2023-02.zst", line * 400_000, level=19)  # ~300 MB of one repeated line
    monkeypatch.setenv("CURATE_MAX_ZSTD_RATIO", "50")
    with pytest.raises(InputFileError, match=r"RS_2023-02.zst: expands [\d,]+ times .*CURATE_MAX_ZSTD_RATIO=50"):
        read_dump(rs, keep=DumpFilter(subreddits=("none",)))


def test_a_one_line_zstd_bomb_is_refused_without_being_held(tmp_path):
    """32 kB that expand to 1 GiB on one line: python-zstandard returns a call's whole output, so the
    file was decompressed whole before any check. Now the run stops past 64 MiB at the default ratio,
    and Python never holds more than a slice's output (measured by tracemalloc: bytes objects)."""
    import tracemalloc

    from schemas.errors import InputFileError

    rs = tmp_path / "RS_2023-04.zst"
    rs.write_bytes(zstandard.ZstdCompressor(level=19).compress(b'{"id": "' + b"a" * (1 << 30) + b'"}\n'))
    assert rs.stat().st_size < 64_000
    tracemalloc.start()
    try:
        with pytest.raises(InputFileError, match=r"RS_2023-04.zst: expands [\d,]+ times .*zstd bomb"):
            read_dump(rs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 300 << 20, f"{peak:,} bytes held"


def test_a_lone_surrogate_escape_becomes_the_replacement_character_not_nul(tmp_path):
    """polars' NDJSON reader read `\\ud800` (half a surrogate pair) as NUL, which was published."""
    rec = fx.submissions()[0]
    escapes = b"a" + b"\\" + b"ud800b " + b"\\" + b"ud83d" + b"\\" + b"ude00 "  # as a JSON writer leaves them
    line = orjson.dumps(rec).replace(b'"selftext":"', b'"selftext":"' + escapes, 1)
    rs = _dump(tmp_path / "RS_2023-03.zst", line + b"\n")
    r = read_dump(rs)
    text = r.rows["selftext"][0]
    assert text.startswith("a\ufffdb 😀 ") and "\x00" not in text


def test_a_text_field_of_another_json_type_is_quarantined_with_the_field(tmp_path):
    """polars reads `true`, lists and objects into a text column as their JSON text: an id `true` or
    a title `["a", "b"]` was published as if written. Text that only looks like one is kept."""
    recs = [
        fx.post("k1"),
        {**fx.post("k2"), "id": True},
        {**fx.post("k3"), "title": ["AITA", "for this"]},
        {**fx.post("k4"), "selftext": {"text": "x"}},
        {**fx.post("k5"), "title": "[Update] true", "selftext": "[removed]"},
        {**fx.post("k6"), "title": 1984},
        {**fx.post("k7"), "id": 12345},
    ]
    r = read_dump(write_dump(tmp_path / "RS_t.zst", recs))
    assert r.rows["id"].to_list() == ["k1", "k5", "k6"]
    assert r.rows["title"].to_list()[1:] == ["[Update] true", "1984"]
    assert r.quarantine.select("row", "field", "error").rows() == [
        (2, "id", "id: a boolean, not text"),
        (3, "title", "title: a list, not text"),
        (4, "selftext", "selftext: an object, not text"),
        (7, "id", "id: a number, not text"),
    ]
    accounted(r)
