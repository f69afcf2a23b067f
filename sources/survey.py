"""Survey microdata (CSV, SPSS .sav, Stata .dta) and its codebook, for the `values` recipe.

One row a respondent, one column per question (answer codes), a weight column and demographic
columns. The codebook (YAML or CSV, see README "values") names the questions, their ordered options
and refusal codes, the weight and the group columns; where a .sav or .dta file carries variable and
value labels, the codebook may name only the columns and the labels come from the file.

The codebook itself is `sources/codebook.py` (its names are re-exported here). This module reads
and resolves; it knows nothing of distributions. Every value leaves it as text
(answer codes in a canonical form: "1.0", " 01" and 1 all read "1"), with its origin (`_file`,
`_row`), so that validation later can name the row and the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from schemas.errors import InputFileError
from sources.codebook import (  # noqa: F401 (re-exported: the codebook's public names)
    CODEBOOK_CSV_COLUMNS,
    CODEBOOK_SUFFIXES,
    DEFAULT_REFUSAL_PATTERN,
    Codebook,
    FileSpec,
    Frozen,
    GroupSpec,
    Option,
    QuestionSpec,
    _code_sort_key,
    canonical_code,
    canonical_code_expr,
    is_codebook,
    load_codebook,
)
from sources.countries import harmonize_column, recognize, unrecognised
from sources.files import check_readable, input_name, numeric_to_text, read_header, read_text_table
from sources.reader import FileRead, Reader

FORMATS = {".csv": "csv", ".tsv": "tsv", ".sav": "spss", ".zsav": "spss", ".dta": "stata"}
INTERNAL = ("_file", "_row", "_survey", "_wave", "_weight", "_rid")


# -- file metadata ---------------------------------------------------------------------------------


@dataclass
class FileMeta:
    path: Path
    format: str
    columns: list[str]
    variable_labels: dict[str, str] = field(default_factory=dict)
    value_labels: dict[str, dict[str, str]] = field(default_factory=dict)  # column -> code -> label
    missing_codes: dict[str, set[str]] = field(default_factory=dict)  # SPSS missing / Stata .a-.z


def file_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputFileError(
            path,
            f"unsupported format {path.suffix!r}: expected survey microdata (.csv, .tsv, .sav, .dta) "
            "or a codebook (.yaml, .yml, or a .csv with role,var columns)",
        )
    return fmt


def _stata_code(value: Any) -> str | None:
    """Stata's extended missing values arrive from pyreadstat as letters; they are written .a-.z."""
    if isinstance(value, str) and len(value) == 1 and (value.isalpha() or value == "_"):
        return f".{value}"
    return canonical_code(value)


def read_meta(path: Path) -> FileMeta:
    """Columns and labels, without the data rows (cheap, so runs can check files before starting)."""
    path = check_readable(path)
    fmt = file_format(path)
    if fmt in ("csv", "tsv"):
        return FileMeta(path, fmt, read_header(path, "," if fmt == "csv" else "\t"))  # UTF-8/BOM checked
    meta = _pyreadstat(path, fmt, metadataonly=True)[1]
    code = _stata_code if fmt == "stata" else canonical_code
    value_labels = {
        col.lower(): {code(k): str(v) for k, v in labels.items()}
        for col, labels in (meta.variable_value_labels or {}).items()
    }
    missing: dict[str, set[str]] = {}
    for col, ranges in (getattr(meta, "missing_ranges", None) or {}).items():
        labelled = value_labels.get(col.lower(), {})
        codes = {canonical_code(r["lo"]) for r in ranges if r["lo"] == r["hi"]}
        for c in labelled:  # labelled codes inside a declared range (e.g. 97-99)
            try:
                if any(r["lo"] <= float(c) <= r["hi"] for r in ranges):
                    codes.add(c)
            except ValueError:
                pass
        missing[col.lower()] = codes
    for col, letters in (getattr(meta, "missing_user_values", None) or {}).items():
        missing.setdefault(col.lower(), set()).update(_stata_code(v) for v in letters)
    labels = {c.lower(): label for c, label in (meta.column_names_to_labels or {}).items() if label}
    return FileMeta(path, fmt, [c.strip().lower() for c in meta.column_names], labels, value_labels, missing)


def _pyreadstat(path: Path, fmt: str, **kwargs):
    import pyreadstat

    reader = pyreadstat.read_sav if fmt == "spss" else pyreadstat.read_dta
    try:
        # user_missing: SPSS user-missing codes (refusals) and Stata's .a-.z arrive as their codes
        # instead of as nulls, so that a refusal is not mistaken for a question not asked.
        return reader(str(path), user_missing=True, **kwargs)
    except Exception as e:  # pyreadstat raises its own ReadstatError and plain exceptions
        label = "SPSS .sav" if fmt == "spss" else "Stata .dta"
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise InputFileError(path, f"not a readable {label} file: {first}") from None


# -- the plan: codebook + file labels, resolved ------------------------------------------------


class Question(Frozen):
    var: str
    text: str
    options: tuple[Option, ...]
    refusals: tuple[Option, ...]
    ordinal: bool
    labels_from: str  # codebook | file | codebook+file
    aliases: dict[str, str] = {}  # another code -> the code of the option it counts as (same label)

    def code_index(self) -> dict[str, int]:
        """Every accepted code -> its option index: options 0..K-1, refusals K..K+R-1."""
        codes = [o.code for o in self.options] + [o.code for o in self.refusals]
        index = {c: i for i, c in enumerate(codes)}
        return index | {alias: index[target] for alias, target in self.aliases.items()}


class FilePlan(Frozen):
    name: str
    format: str
    survey: str
    wave: str | None
    constants: dict[str, str] = {}
    questions: tuple[str, ...] = ()
    absent_questions: tuple[str, ...] = ()
    absent_groups: tuple[str, ...] = ()


class SurveyPlan(Frozen):
    codebook: Codebook
    questions: tuple[Question, ...]
    files: tuple[FilePlan, ...]
    absent_everywhere: tuple[str, ...] = ()
    unused_file_specs: tuple[str, ...] = ()  # codebook `files` entries for files not among the inputs

    def file(self, name: str) -> FilePlan:
        return next(f for f in self.files if f.name == name)


def make_plan(codebook: Codebook, codebook_path: Path, paths: list[Path]) -> SurveyPlan:
    """Resolve each question's text, options and refusal codes from the codebook and the files'
    labels; say per file which questions and groups it lacks. Reads metadata only."""
    metas = [read_meta(p) for p in paths]
    names = [input_name(m.path) for m in metas]  # as given: d1/w1.csv and d2/w1.csv are two files
    bases = [m.path.name for m in metas]
    for base in codebook.files:
        if base not in names and bases.count(base) > 1:
            raise InputFileError(
                codebook_path,
                f"the codebook's `files` entry {base!r} fits "
                f"{', '.join(n for n, b in zip(names, bases) if b == base)}; "
                "name the file as given on the command line",
            )
    # `files` entries for files not in this run are fine (a run over some of the waves)
    unused = tuple(sorted(set(codebook.files) - set(names) - set(bases)))
    files = tuple(_file_plan(codebook, m) for m in metas)
    questions, absent = [], []
    for spec in codebook.questions:
        having = [m for m in metas if spec.var in m.columns]
        if not having:
            absent.append(spec.var)
            continue
        questions.append(_resolve_question(codebook, codebook_path, spec, having))
    if not questions:
        raise InputFileError(codebook_path, f"none of the codebook's questions is a column of {names}")
    return SurveyPlan(
        codebook=codebook,
        questions=tuple(questions),
        files=files,
        absent_everywhere=tuple(absent),
        unused_file_specs=unused,
    )


def _file_plan(codebook: Codebook, meta: FileMeta) -> FilePlan:
    path, cols = meta.path, set(meta.columns)
    for role in ("weight", "respondent_id", "wave_column"):
        column = getattr(codebook, role)
        if column and column not in cols:
            raise InputFileError(path, f"the codebook's {role} column {column!r} is not in this file")
    for column in codebook.design_columns:
        if column not in cols:
            raise InputFileError(path, f"the codebook's design column {column!r} is not in this file")
    reps = codebook.design.replicates if codebook.design else None
    if reps and reps.prefix and not replicate_columns(codebook, meta.columns):
        raise InputFileError(path, f"no replicate weight columns starting with {reps.prefix!r} in this file")
    spec = codebook.files.get(input_name(path)) or codebook.files.get(path.name) or FileSpec()
    present = tuple(q.var for q in codebook.questions if q.var in cols)
    absent = tuple(q.var for q in codebook.questions if q.var not in cols)
    absent_groups = tuple(g.attr for g in codebook.groups if g.var not in cols and g.attr not in spec.columns)
    return FilePlan(
        name=input_name(path),
        format=meta.format,
        survey=spec.survey or codebook.survey,
        wave=spec.wave if spec.wave is not None else codebook.wave,
        constants=spec.columns,
        questions=present,
        absent_questions=absent,
        absent_groups=absent_groups,
    )


def _resolve_question(codebook: Codebook, codebook_path: Path, spec: QuestionSpec, metas: list[FileMeta]) -> Question:
    file_labels: dict[str, str] = {}
    file_missing: set[str] = set()
    for m in metas:
        for code, label in m.value_labels.get(spec.var, {}).items():
            file_labels.setdefault(code, label)
        file_missing |= m.missing_codes.get(spec.var, set())
    pattern = re.compile(codebook.refusal_pattern)
    from_file = False

    def looks_refusal(code: str) -> bool:
        return code in file_missing or bool(pattern.search(file_labels.get(code, "")))

    def labelled(opts) -> list[Option]:
        nonlocal from_file
        out = []
        for o in opts:
            from_file |= o.label is None and o.code in file_labels
            out.append(Option(code=o.code, label=o.label or file_labels.get(o.code) or o.code))
        return out

    if spec.options:
        options = labelled(spec.options)
        taken = {o.code for o in options}
        if spec.refusal is not None:
            refusals = labelled(spec.refusal)
        else:
            refusals = labelled(
                Option(code=c) for c in sorted(file_labels, key=_code_sort_key) if c not in taken and looks_refusal(c)
            )
            from_file |= bool(refusals)
    else:
        if not file_labels:
            where = ", ".join(input_name(m.path) for m in metas)
            raise InputFileError(
                codebook_path, f"question {spec.var}: no options in the codebook and no value labels for it in {where}"
            )
        refusal_codes = {o.code for o in spec.refusal} if spec.refusal is not None else None
        codes = sorted(file_labels, key=_code_sort_key)
        is_refusal = (lambda c: c in refusal_codes) if refusal_codes is not None else looks_refusal
        options = labelled(Option(code=c) for c in codes if not is_refusal(c))
        refusals = (
            labelled(spec.refusal)
            if spec.refusal is not None
            else labelled(Option(code=c) for c in codes if is_refusal(c))
        )
        from_file = True
    if not options:
        raise InputFileError(codebook_path, f"question {spec.var}: every code is a refusal; no options left")
    options, option_aliases = _merge_same_labels(options)
    refusals, refusal_aliases = _merge_same_labels(refusals)
    text = spec.text or next((m.variable_labels[spec.var] for m in metas if spec.var in m.variable_labels), spec.var)
    ordinal = spec.ordinal if spec.ordinal is not None else codebook.ordinal
    return Question(
        var=spec.var,
        text=text,
        options=tuple(options),
        refusals=tuple(refusals),
        ordinal=ordinal,
        labels_from=("codebook+file" if spec.options else "file") if from_file else "codebook",
        aliases=option_aliases | refusal_aliases,
    )


def _merge_same_labels(options: list[Option]) -> tuple[list[Option], dict[str, str]]:
    """Codes with the same label are one option: files of one survey may code "Refused" 99 in SPSS
    and .b in Stata. The first code names the option; the others are aliases of it."""
    first: dict[str, str] = {}
    kept, aliases = [], {}
    for o in options:
        if o.label in first:
            aliases[o.code] = first[o.label]
        else:
            first[o.label] = o.code
            kept.append(o)
    return kept, aliases


# -- reading the rows ------------------------------------------------------------------------------


def read_microdata(path: Path | str, plan: SurveyPlan) -> pl.DataFrame:
    """The file's respondents as text columns: `_file, _row, _survey, _wave, _weight, _rid`, one
    column per group attribute (labels), one per question present (canonical codes)."""
    path = check_readable(path)
    fplan = plan.file(input_name(path))
    book = plan.codebook
    fmt = file_format(path)
    if fmt in ("csv", "tsv"):
        frame = read_text_table(path, "," if fmt == "csv" else "\t")
        group_labels: dict[str, dict[str, str]] = {}
    else:
        frame, meta = _pyreadstat(path, fmt, output_format="polars")
        frame.columns = [c.strip().lower() for c in frame.columns]
        wanted = {
            book.weight,
            book.respondent_id,
            book.wave_column,
            *fplan.questions,
            *(g.var for g in book.groups),
            *book.design_columns,
            *replicate_columns(book, [c.strip().lower() for c in frame.columns]),
        }
        frame = _as_text(frame.select(c for c in frame.columns if c in wanted), fmt)
        code = _stata_code if fmt == "stata" else canonical_code
        group_labels = {
            c.lower(): {code(k): str(v) for k, v in labels.items()}
            for c, labels in (meta.variable_value_labels or {}).items()
        }

    def column(name: str | None) -> pl.Expr:
        return pl.col(name).cast(pl.String) if name and name in frame.columns else pl.lit(None, pl.String)

    wave = column(book.wave_column) if book.wave_column else pl.lit(fplan.wave, pl.String)
    exprs = [
        pl.lit(fplan.name).alias("_file"),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("_row"),
        pl.lit(fplan.survey).alias("_survey"),
        wave.alias("_wave"),
        column(book.weight).str.strip_chars().alias("_weight"),
        column(book.respondent_id).alias("_rid"),
    ]
    for g in book.groups:
        exprs.append(_group_expr(g, frame.columns, fplan, group_labels.get(g.var, {})).alias(g.attr))
    exprs += design_exprs(book, frame.columns, column)
    exprs += [canonical_code_expr(pl.col(q)).alias(q) for q in fplan.questions]
    out = frame.select(exprs)
    for g in book.groups:  # ISO 3166 names, the value as written kept in `_raw_<attr>`
        if g.is_country:
            out = (
                harmonize_column(out, g.attr)
                .rename({f"{g.attr}_raw": f"_raw_{g.attr}"})
                .drop(f"{g.attr}_code", f"{g.attr}_alpha3")
            )
    return out


def country_spellings(data: pl.DataFrame, book: Codebook) -> dict[str, dict[str, str]]:
    """Per country group attribute: every value as the files wrote it -> the ISO name it counts as
    (for the card and report.json); values that name no country are not here (`unrecognised_countries`)."""
    out = {}
    for g in book.groups:
        raw = f"_raw_{g.attr}"
        if g.is_country and raw in data.columns:
            pairs = data.select(raw, g.attr).drop_nulls().unique().sort(raw)
            out[g.attr] = {r: v for r, v in pairs.iter_rows() if recognize(r).alpha2 is not None}
    return out


def unrecognised_countries(data: pl.DataFrame, book: Codebook) -> dict[str, list[str]]:
    """Per country group attribute: the values that name no country (kept as written, with no code)."""
    return {
        g.attr: found
        for g in book.groups
        if g.is_country
        and f"_raw_{g.attr}" in data.columns
        and (found := unrecognised(data[f"_raw_{g.attr}"].drop_nulls().unique().to_list()))
    }


def _group_expr(g: GroupSpec, columns: list[str], fplan: FilePlan, file_labels: dict[str, str]) -> pl.Expr:
    if g.attr in fplan.constants:
        return pl.lit(fplan.constants[g.attr], pl.String)
    if g.var not in columns:
        return pl.lit(None, pl.String)
    code = canonical_code_expr(pl.col(g.var))
    labels = g.labels or file_labels
    if not labels:
        return code
    return code.replace(labels)  # codes without a label keep their code


def _as_text(frame: pl.DataFrame, fmt: str) -> pl.DataFrame:
    """Numbers to text (whole floats without '.0'); Stata's object columns (numbers mixed with
    extended missing letters) to canonical codes."""
    objects = [c for c, t in frame.schema.items() if t == pl.Object]
    numeric = frame.drop(objects)
    out = numeric_to_text(numeric)
    for c in objects:
        code = _stata_code if fmt == "stata" else canonical_code
        out = out.with_columns(pl.Series(c, [code(v) for v in frame[c].to_list()], dtype=pl.String))
    return out.select(frame.columns)


# -- the survey design's columns ---------------------------------------------------------------------


def replicate_columns(book: Codebook, columns: list[str]) -> list[str]:
    """The replicate weight columns of a file: the codebook's list, or those with its prefix, in order."""
    reps = book.design.replicates if book.design else None
    if reps is None:
        return []
    return list(reps.columns) or [c for c in columns if c.startswith(reps.prefix)]


def design_exprs(book: Codebook, columns: list[str], column) -> list[pl.Expr]:
    """`_stratum`, `_psu`, `_fpc` and `_rep_<column>` per replicate weight, in the file's order, as
    text (validation parses the numbers)."""
    d = book.design
    if d is None:
        return []
    if d.replicates:
        return [column(c).str.strip_chars().alias(f"_rep_{c}") for c in replicate_columns(book, columns)]
    named = (("_stratum", d.strata), ("_psu", d.psu), ("_fpc", d.fpc))
    return [canonical_code_expr(column(c)).alias(alias) for alias, c in named if c]


class MicrodataReader(Reader):
    """Survey microdata as the codebook's `plan` resolved it (`read_microdata`): one respondent a row.
    `check` reads the file's metadata only (`read_meta`)."""

    what = "survey microdata"
    modules = ("sources.reader", "sources.survey", "sources.codebook", "sources.countries", "sources.files")

    def __init__(self, plan: SurveyPlan):
        self.plan = plan

    def check(self, path: Path) -> None:
        read_meta(path)

    def read(self, path: Path) -> FileRead:
        return FileRead(input_name(path), read_microdata(path, self.plan))
