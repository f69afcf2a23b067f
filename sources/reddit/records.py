"""Reddit dump records: the fields read from each NDJSON line, the typed row schema, parsing a
block of lines (a fast path through polars, a line-by-line path that quarantines bad lines), and the
coercion of drifting types with a check of every field: a value that is not a finite number in its
range (created_utc "NaN", a score of 1e40) quarantines its line with the field named."""

from __future__ import annotations

import io

import orjson
import polars as pl

SENTINELS = ("[deleted]", "[removed]")
USERNAME = r"^[A-Za-z0-9_-]{1,40}$"  # what Reddit allows (3-20), with room for old and odd accounts

# Every field is read as text; polars writes numbers, booleans and objects as their JSON text.
TEXT_FIELDS = [
    "id",
    "subreddit",
    "author",
    "created_utc",
    "score",
    "title",
    "selftext",
    "body",
    "link_id",
    "parent_id",
    "num_comments",
    "over_18",
    "is_self",
    "stickied",
    "distinguished",
    "edited",
    "removed_by_category",
    "retrieved_on",
    "retrieved_utc",
    "link_flair_text",
    "_meta",
]
READ_SCHEMA = {name: pl.String for name in TEXT_FIELDS}
# Each kind reads only its own fields (fewer columns to build); the others are added as nulls.
KIND_FIELDS = {
    "submission": [f for f in TEXT_FIELDS if f not in ("body", "link_id", "parent_id")],
    "comment": [
        f
        for f in TEXT_FIELDS
        if f not in ("title", "selftext", "num_comments", "over_18", "is_self", "link_flair_text")
    ],
}

ROW_SCHEMA = pl.Schema(
    {
        "kind": pl.String,  # submission | comment
        "id": pl.String,
        "subreddit": pl.String,
        "author": pl.String,  # null when absent or a sentinel
        "author_state": pl.String,  # null, "deleted", "removed" or "absent"
        "created_utc": pl.Int64,
        "score": pl.Int64,
        "title": pl.String,
        "selftext": pl.String,  # null when a sentinel
        "body": pl.String,  # null when a sentinel
        "content_state": pl.String,  # null, "deleted" or "removed" (sentinel text or a removal mark)
        "link_id": pl.String,  # always with its t3_ prefix
        "parent_id": pl.String,
        "num_comments": pl.Int64,
        "over_18": pl.Boolean,
        "is_self": pl.Boolean,
        "stickied": pl.Boolean,
        "distinguished": pl.String,
        "edited": pl.Boolean,
        "edited_utc": pl.Int64,
        "link_flair_text": pl.String,
        "retrieved_utc": pl.Int64,
        "_file": pl.String,
        "_line": pl.Int64,
    }
)


# -- parsing a block ------------------------------------------------------------------------------


def parse_block(block: bytes, first_line: int, schema: dict | None = None) -> tuple[pl.DataFrame, list[dict], int]:
    """Text columns of every line of `block` with its `_line` number; the lines that could not be
    read as quarantine dicts (raw bytes in `raw`); and the count of blank lines."""
    schema = schema or READ_SCHEMA
    n_lines = block.count(b"\n")
    try:
        frame = pl.read_ndjson(io.BytesIO(block), schema=schema)
    except pl.exceptions.PolarsError:
        frame = None
    # polars skips blank lines: a short frame means the block has some, and line numbers would slip
    if frame is not None and frame.height == n_lines:
        frame, bad, blank = frame.with_columns(_line_numbers(first_line, n_lines)), [], 0
    else:
        frame, bad, blank = _parse_lines(block, first_line, schema)
    frame, wrong = _text_as_text(frame, block, first_line)
    return frame, bad + wrong, blank


# Fields that are text in every dump: polars reads `true`, `[..]` or `{..}` into them as its JSON
# text, which would be published as if written (an id `true`, a title `["a", "b"]`). Ids are never
# numbers either.
STRING_FIELDS = ("id", "subreddit", "author", "title", "selftext", "body", "link_id", "parent_id", "link_flair_text")
ID_FIELDS = ("id", "subreddit", "author", "link_id", "parent_id")
_LOOKS_NUMBER = r"^\s*-?\d+(\.\d*)?([eE][-+]?\d+)?\s*$"


def _text_as_text(frame: pl.DataFrame, block: bytes, first_line: int) -> tuple[pl.DataFrame, list[dict]]:
    """The rows whose text field holds another JSON type, as quarantine dicts naming the field. Only
    rows whose text could be one (`true`, `[..`, `{..`, a number for an id) are parsed again."""
    fields = [f for f in STRING_FIELDS if f in frame.columns]
    if not fields or frame.height == 0:
        return frame, []
    suspects = []
    for f in fields:
        col = pl.col(f)
        odd = col.is_in(["true", "false"]) | (
            (col.str.starts_with("[") | col.str.starts_with("{")) & ~col.is_in(SENTINELS)
        )
        if f in ID_FIELDS:
            odd = odd | col.str.contains(_LOOKS_NUMBER)
        suspects.append(odd.fill_null(False))
    lines = frame.filter(pl.any_horizontal(suspects))["_line"].to_list()
    if not lines:
        return frame, []
    raw = block.split(b"\n")
    bad = []
    for number in lines:
        line = raw[number - first_line]
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:  # nested past orjson's depth: polars read it; the type is unknown
            continue
        for f in fields:
            value = record.get(f)
            if value is None or isinstance(value, str):
                continue
            if f not in ID_FIELDS and isinstance(value, (int, float)) and not isinstance(value, bool):
                continue  # a title 1984: its text is what was meant
            kind = {bool: "a boolean", list: "a list", dict: "an object"}.get(type(value), "a number")
            bad.append(_bad(number, f, f"{f}: {kind}, not text", line))
            break
    if not bad:
        return frame, []
    return frame.filter(~pl.col("_line").is_in([b["row"] for b in bad])), bad


def _line_numbers(first: int, n: int) -> pl.Series:
    return pl.int_range(first, first + n, dtype=pl.Int64, eager=True).alias("_line")


def _parse_lines(block: bytes, first_line: int, schema: dict) -> tuple[pl.DataFrame, list[dict], int]:
    """The slow path, for blocks with a bad line: check each line, parse the good ones together."""
    good, numbers, bad, blank = [], [], [], 0
    for i, line in enumerate(block.split(b"\n")[: block.count(b"\n")]):
        number = first_line + i
        if not line.strip():
            blank += 1
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            bad.append(_bad(number, None, f"not valid JSON: {_short(e)}", line))
            continue
        if not isinstance(value, dict):
            bad.append(_bad(number, None, f"not a JSON object but {type(value).__name__}", line))
            continue
        good.append(line)
        numbers.append(number)
    frame, more_bad = _read_good_lines(good, numbers, schema)
    return frame, bad + more_bad, blank


def _read_good_lines(lines: list[bytes], numbers: list[int], schema: dict) -> tuple[pl.DataFrame, list[dict]]:
    if not lines:
        return pl.DataFrame(schema={**schema, "_line": pl.Int64}), []
    try:
        frame = pl.read_ndjson(io.BytesIO(b"\n".join(lines) + b"\n"), schema=schema)
        return frame.with_columns(pl.Series("_line", numbers, pl.Int64)), []
    except pl.exceptions.PolarsError:
        pass
    frames, bad = [], []  # one line polars rejects although it is JSON: find it
    for line, number in zip(lines, numbers):
        try:
            frames.append(
                pl.read_ndjson(io.BytesIO(line), schema=schema).with_columns(pl.lit(number, pl.Int64).alias("_line"))
            )
        except pl.exceptions.PolarsError as e:
            bad.append(_bad(number, None, f"unreadable record: {_short(e)}", line))
    return pl.concat(frames) if frames else _read_good_lines([], [], schema)[0], bad


def _bad(line: int, field_name: str | None, error: str, raw: bytes) -> dict:
    return {"row": line, "field": field_name, "error": error, "raw": raw}


def _short(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:200]


# -- coercion of drifting types -------------------------------------------------------------------


def _number(name: str) -> pl.Expr:
    """A JSON number written as text ('5', '5.0', '"5"') as a float; null when absent."""
    return pl.col(name).str.strip_chars().cast(pl.Float64, strict=False)


# The range a number must be in to be stored: finite, and within what the field can mean (Unix
# seconds until 2242, counts and scores far inside Int64). Outside it, the line is quarantined.
TIME_RANGE = (0, 2**33)
COUNT_RANGE = (0, 2**53)
SCORE_RANGE = (-(2**53), 2**53)


def _out_of_range(name: str, bounds: tuple[int, int], parsed: pl.Expr | None = None) -> pl.Expr:
    """True where the field is a number but not a finite one inside `bounds`."""
    x = _number(name) if parsed is None else parsed
    low, high = bounds
    return x.is_not_null() & (x.is_nan() | x.is_infinite() | (x < low) | (x >= high)).fill_null(False)


def _int(parsed: pl.Expr) -> pl.Expr:
    """A checked number as Int64; lenient, because the checks above quarantine what does not fit."""
    return pl.when(parsed.is_finite() & (parsed.abs() < 2**62)).then(parsed).cast(pl.Int64, strict=False)


def _unreadable(name: str, parsed: pl.Expr) -> pl.Expr:
    text = pl.col(name)
    return text.is_not_null() & (text != "null") & parsed.is_null()


def _flag(name: str) -> pl.Expr:
    text = pl.col(name).str.to_lowercase()
    return pl.when(text.is_in(["true", "1"])).then(True).when(text.is_in(["false", "0"])).then(False)


def _meta(path: str) -> pl.Expr:
    return pl.col("_meta").str.json_path_match(f"$.{path}")


def problems() -> list[pl.Expr]:
    """`_field` and `_error` for a row whose fields cannot be coerced; null where all is well.
    Errors name the field and the kind of problem, never the value (it may be personal)."""
    checks = [
        ("id", pl.col("id").is_null() | (pl.col("id").str.strip_chars() == ""), "missing"),
        ("subreddit", pl.col("subreddit").is_null() | (pl.col("subreddit") == ""), "missing"),
        ("created_utc", pl.col("created_utc").is_null(), "missing"),
        ("created_utc", _unreadable("created_utc", _number("created_utc")), "not a number of seconds"),
        (
            "created_utc",
            _out_of_range("created_utc", TIME_RANGE),
            f"not a finite time in [{TIME_RANGE[0]}, 2**33) seconds",
        ),
        ("score", _unreadable("score", _number("score")), "not a number"),
        ("score", _out_of_range("score", SCORE_RANGE), "not a finite number in (-2**53, 2**53)"),
        ("num_comments", _unreadable("num_comments", _number("num_comments")), "not a number"),
        ("num_comments", _out_of_range("num_comments", COUNT_RANGE), "not a finite count in [0, 2**53)"),
        ("edited", _out_of_range("edited", TIME_RANGE), "not a finite time in [0, 2**33) seconds"),
        ("retrieved_utc", _out_of_range("retrieved_utc", TIME_RANGE), "not a finite time in [0, 2**33) seconds"),
        ("retrieved_on", _out_of_range("retrieved_on", TIME_RANGE), "not a finite time in [0, 2**33) seconds"),
        (
            "edited",
            _unreadable("edited", pl.coalesce(_flag("edited"), _number("edited").cast(pl.Boolean))),
            "neither a boolean nor a time",
        ),
        (
            "author",
            pl.col("author").is_not_null()
            & ~pl.col("author").is_in(SENTINELS)
            & ~pl.col("author").str.contains(USERNAME),
            "not a Reddit user name",
        ),
    ] + [(f, _unreadable(f, _flag(f)), "not a boolean") for f in ("over_18", "is_self", "stickied")]
    field_expr = pl.coalesce([pl.when(cond).then(pl.lit(name)) for name, cond, _ in checks])
    error_expr = pl.coalesce([pl.when(cond).then(pl.lit(f"{name}: {what}")) for name, cond, what in checks])
    return [field_expr.alias("_field"), error_expr.alias("_error")]


def coerce(kind: str, file_name: str) -> list[pl.Expr]:
    """Expressions that turn the text columns into typed rows of ROW_SCHEMA."""
    author = pl.col("author")
    text_col = "selftext" if kind == "submission" else "body"
    text = pl.col(text_col)
    removal = pl.coalesce(pl.col("removed_by_category"), _meta("removal_type"))
    content_state = (
        pl.when(text == "[removed]")
        .then(pl.lit("removed"))
        .when(text == "[deleted]")
        .then(pl.lit("deleted"))
        .when(removal.is_in(["deleted", "author"]))
        .then(pl.lit("deleted"))
        .when(removal.is_not_null())
        .then(pl.lit("removed"))
    )
    edited_time = _number("edited")
    link = pl.col("link_id")
    return [
        pl.lit(kind).alias("kind"),
        pl.col("id").str.strip_chars(),
        pl.col("subreddit"),
        pl.when(author.is_in(SENTINELS)).then(None).otherwise(author).alias("author"),
        pl.when(author.is_null())
        .then(pl.lit("absent"))
        .when(author == "[deleted]")
        .then(pl.lit("deleted"))
        .when(author == "[removed]")
        .then(pl.lit("removed"))
        .alias("author_state"),
        _int(_number("created_utc")).alias("created_utc"),
        _int(_number("score")).alias("score"),
        pl.col("title"),
        pl.when(pl.col("selftext").is_in(SENTINELS)).then(None).otherwise(pl.col("selftext")).alias("selftext"),
        pl.when(pl.col("body").is_in(SENTINELS)).then(None).otherwise(pl.col("body")).alias("body"),
        content_state.alias("content_state"),
        pl.when(link.is_null() | link.str.starts_with("t3_")).then(link).otherwise("t3_" + link).alias("link_id"),
        pl.col("parent_id"),
        _int(_number("num_comments")).alias("num_comments"),
        _flag("over_18").alias("over_18"),
        _flag("is_self").alias("is_self"),
        _flag("stickied").alias("stickied"),
        pl.col("distinguished"),
        (pl.coalesce(_flag("edited"), edited_time > 0).fill_null(False)).alias("edited"),
        _int(pl.when(edited_time > 1).then(edited_time)).alias("edited_utc"),
        pl.col("link_flair_text"),
        _int(
            pl.coalesce(
                _number("retrieved_utc"),
                _number("retrieved_on"),
                _meta("retrieved_2nd_on").cast(pl.Float64, strict=False),
            )
        ).alias("retrieved_utc"),
        pl.lit(file_name).alias("_file"),
        pl.col("_line"),
    ]
