"""Survey microdata (CSV, SPSS .sav, Stata .dta) and its codebook, for the `values` recipe.

One row a respondent, one column per question (answer codes), a weight column and demographic
columns. The codebook (YAML or CSV, see README "values") names the questions, their ordered options
and refusal codes, the weight and the group columns; where a .sav or .dta file carries variable and
value labels, the codebook may name only the columns and the labels come from the file.

This module reads and resolves; it knows nothing of distributions. Every value leaves it as text
(answer codes in a canonical form: "1.0", " 01" and 1 all read "1"), with its origin (`_file`,
`_row`), so that validation later can name the row and the field.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import yaml
from pydantic import BaseModel, ValidationError, field_validator, model_validator

from schemas.errors import InputFileError
from sources.files import check_readable, numeric_to_text, read_text_table

FORMATS = {".csv": "csv", ".tsv": "tsv", ".sav": "spss", ".zsav": "spss", ".dta": "stata"}
CODEBOOK_SUFFIXES = {".yaml", ".yml"}
CODEBOOK_CSV_COLUMNS = {"role", "var"}
# Labels that mean "no substantive answer" when neither the codebook nor the file (SPSS missing
# values, Stata extended missing values) says which codes are refusals.
DEFAULT_REFUSAL_PATTERN = (
    r"(?i)\b(refused|refusal|don'?t know|do not know|no answer|not sure|prefer not to (say|answer)|dk/?na)\b"
)
INTERNAL = ("_file", "_row", "_survey", "_wave", "_weight", "_rid")


# -- codes -----------------------------------------------------------------------------------------


def canonical_code(value: Any) -> str | None:
    """One spelling per code: 1, 1.0, "01" and " 1 " are "1"; other text is kept, stripped."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    if math.isfinite(number) and number == math.floor(number) and abs(number) < 1e15:
        return str(int(number))
    return text


def canonical_code_expr(expr: pl.Expr) -> pl.Expr:
    """`canonical_code` as a polars expression over a text column."""
    text = expr.cast(pl.String).str.strip_chars()
    number = text.cast(pl.Float64, strict=False)
    whole = number.is_not_null() & number.is_finite() & (number == number.floor()) & (number.abs() < 1e15)
    return (
        pl.when(text.is_null() | (text == ""))
        .then(pl.lit(None, pl.String))
        .when(whole)
        .then(number.cast(pl.Int64, strict=False).cast(pl.String))
        .otherwise(text)
    )


def _code_sort_key(code: str) -> tuple[int, float, str]:
    try:
        return (0, float(code), code)
    except ValueError:
        return (1, 0.0, code)


# -- the codebook ----------------------------------------------------------------------------------


class Frozen(BaseModel):
    model_config = {"frozen": True, "extra": "forbid"}


class Option(Frozen):
    code: str
    label: str | None = None

    @field_validator("code", mode="before")
    @classmethod
    def _canonical(cls, v: Any) -> str:
        code = canonical_code(v)
        if code is None:
            raise ValueError("an option needs a code")
        return code


def _as_options(value: Any) -> Any:
    """Options as written in YAML: a mapping {code: label} (in order), a list of {code, label}, or a
    list of bare codes."""
    if value is None:
        return None
    if isinstance(value, dict):
        return [{"code": k, "label": None if v is None else str(v)} for k, v in value.items()]
    if isinstance(value, list):
        return [v if isinstance(v, dict) else {"code": v} for v in value]
    return value


class GroupSpec(Frozen):
    var: str  # the column in the microdata
    name: str | None = None  # the attribute's name in the output (default: var)
    labels: dict[str, str] = {}  # code -> label, overriding the file's value labels

    @field_validator("var", mode="before")
    @classmethod
    def _lower(cls, v: Any) -> str:
        return str(v).strip().lower()

    @field_validator("labels", mode="before")
    @classmethod
    def _codes(cls, v: Any) -> dict[str, str]:
        return {canonical_code(k): str(label) for k, label in (v or {}).items()}

    @property
    def attr(self) -> str:
        return self.name or self.var


class FileSpec(Frozen):
    survey: str | None = None
    wave: str | None = None
    columns: dict[str, str] = {}  # a group attribute's value for every row of the file (e.g. country)

    @field_validator("wave", mode="before")
    @classmethod
    def _text(cls, v: Any) -> str | None:
        return None if v is None else str(v)


class QuestionSpec(Frozen):
    var: str
    text: str | None = None
    options: list[Option] | None = None  # substantive options, in their order
    refusal: list[Option] | None = None  # refused, don't know, ...: kept apart from the options
    ordinal: bool | None = None

    @field_validator("var", mode="before")
    @classmethod
    def _lower(cls, v: Any) -> str:
        return str(v).strip().lower()

    @field_validator("options", "refusal", mode="before")
    @classmethod
    def _opts(cls, v: Any) -> Any:
        return _as_options(v)


class Codebook(Frozen):
    survey: str
    wave: str | None = None  # default wave of every file
    wave_column: str | None = None  # or a column holding each respondent's wave
    lang: str = "en"
    weight: str | None = None  # no weight column: every respondent counts 1
    respondent_id: str | None = None
    ordinal: bool = False  # for questions that do not say
    refusal_pattern: str = DEFAULT_REFUSAL_PATTERN
    groups: list[GroupSpec] = []
    files: dict[str, FileSpec] = {}  # per file name: survey, wave, constant group values
    questions: list[QuestionSpec]

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        """`questions: [q1, q2]` and `groups: [country]` name only the columns."""
        if isinstance(data, dict):
            data = dict(data)
            data["questions"] = [{"var": q} if isinstance(q, (str, int)) else q for q in data.get("questions") or []]
            data["groups"] = [{"var": g} if isinstance(g, str) else g for g in data.get("groups") or []]
            for key in ("weight", "respondent_id", "wave_column"):
                if data.get(key) is not None:
                    data[key] = str(data[key]).strip().lower()
            if data.get("wave") is not None:
                data["wave"] = str(data["wave"])
        return data

    @model_validator(mode="after")
    def _consistent(self) -> "Codebook":
        if not self.questions:
            raise ValueError("questions: at least one question is needed")
        re.compile(self.refusal_pattern)
        names = [q.var for q in self.questions] + [g.attr for g in self.groups]
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise ValueError(f"{name!r} is named twice among questions and groups")
            if name.startswith("_") or name in ("all",):
                raise ValueError(f"{name!r}: names starting with '_' and 'all' are reserved")
            seen.add(name)
        attrs = {g.attr for g in self.groups}
        for fname, spec in self.files.items():
            unknown = set(spec.columns) - attrs
            if unknown:
                raise ValueError(f"files.{fname}.columns: {sorted(unknown)} are not group attributes")
        for q in self.questions:
            codes = [o.code for o in (q.options or [])] + [o.code for o in (q.refusal or [])]
            dup = {c for c in codes if codes.count(c) > 1}
            if dup:
                raise ValueError(f"question {q.var}: code(s) {sorted(dup)} listed twice")
        return self

    @property
    def group_vars(self) -> dict[str, GroupSpec]:
        return {g.attr: g for g in self.groups}


def is_codebook(path: Path) -> bool:
    """A YAML file, or a CSV whose header has the codebook's `role` and `var` columns."""
    if path.suffix.lower() in CODEBOOK_SUFFIXES:
        return True
    if path.suffix.lower() != ".csv":
        return False
    try:
        head = pl.read_csv(path, n_rows=0, infer_schema=False)
    except Exception:  # not a readable CSV: the microdata reader will say so
        return False
    return CODEBOOK_CSV_COLUMNS <= {c.strip().lower() for c in head.columns}


def load_codebook(path: Path) -> Codebook:
    path = check_readable(path)
    if path.suffix.lower() in CODEBOOK_SUFFIXES:
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as e:
            raise InputFileError(path, f"codebook is not valid YAML: {e}") from None
        if not isinstance(data, dict):
            raise InputFileError(path, "codebook must be a YAML mapping (survey, weight, groups, questions)")
    else:
        data = _codebook_from_csv(path)
    try:
        return Codebook(**data)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'codebook'}: {err['msg'].removeprefix('Value error, ')}"
            for err in e.errors()
        )
        raise InputFileError(path, f"invalid codebook: {problems}") from None


def _flag(text: str | None) -> bool | None:
    if text is None or not text.strip():
        return None
    return text.strip().lower() in {"1", "true", "yes", "y", "x"}


def _codebook_from_csv(path: Path) -> dict[str, Any]:
    """Long form, one row per setting, group label or option:

    role,var,name,text,code,label,refusal,ordinal
    survey,,,My Survey,,,,
    weight,wgt,,,,,,
    group,agecat,age_band,,1,18-29,,
    question,q1,,How important is family?,1,Very important,,yes
    question,q1,,,9,Don't know,yes,
    """
    frame = read_text_table(path)
    missing = CODEBOOK_CSV_COLUMNS - set(frame.columns)
    if missing:
        raise InputFileError(path, f"codebook CSV lacks column(s) {sorted(missing)}")
    data: dict[str, Any] = {"groups": [], "questions": []}
    groups: dict[str, dict] = {}
    questions: dict[str, dict] = {}
    for i, row in enumerate(frame.iter_rows(named=True), start=1):
        role = (row.get("role") or "").strip().lower()
        var = (row.get("var") or "").strip()
        text = row.get("text")
        if role in ("survey", "wave", "lang"):
            data[role] = text
        elif role in ("weight", "respondent_id", "wave_column"):
            data[role] = var
        elif role == "group":
            g = groups.setdefault(var, {"var": var, "labels": {}})
            if row.get("name"):
                g["name"] = row["name"]
            if row.get("code"):
                g["labels"][row["code"]] = row.get("label") or row["code"]
        elif role == "question":
            q = questions.setdefault(var, {"var": var, "options": [], "refusal": []})
            if text:
                q["text"] = text
            if _flag(row.get("ordinal")) is not None:
                q["ordinal"] = _flag(row.get("ordinal"))
            if row.get("code"):
                target = "refusal" if _flag(row.get("refusal")) else "options"
                q[target].append({"code": row["code"], "label": row.get("label")})
        else:
            raise InputFileError(path, f"row {i}: unknown role {role!r} (survey, wave, lang, weight, "
                                       "respondent_id, wave_column, group, question)")
    data["groups"] = list(groups.values())
    for q in questions.values():
        q["options"] = q["options"] or None
        q["refusal"] = q["refusal"] or None
    data["questions"] = list(questions.values())
    return data


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
            path, f"unsupported format {path.suffix!r}: expected survey microdata (.csv, .tsv, .sav, .dta) "
                  "or a codebook (.yaml, .yml, or a .csv with role,var columns)")
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
        try:
            head = pl.read_csv(path, separator="," if fmt == "csv" else "\t", n_rows=0, infer_schema=False)
        except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as e:
            raise InputFileError(path, f"not a readable {fmt.upper()} file: {e}") from None
        return FileMeta(path, fmt, [c.strip().lower() for c in head.columns])
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
    labels = {c.lower(): l for c, l in (meta.column_names_to_labels or {}).items() if l}
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
    names = [m.path.name for m in metas]
    if len(set(names)) != len(names):
        raise InputFileError(codebook_path, f"two input files share a name ({names}); the codebook's "
                                            "`files` section and the quarantine name files by name")
    # `files` entries for files not in this run are fine (a run over some of the waves)
    unused = tuple(sorted(set(codebook.files) - set(names)))
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
    return SurveyPlan(codebook=codebook, questions=tuple(questions), files=files, absent_everywhere=tuple(absent),
                      unused_file_specs=unused)


def _file_plan(codebook: Codebook, meta: FileMeta) -> FilePlan:
    path, cols = meta.path, set(meta.columns)
    for role in ("weight", "respondent_id", "wave_column"):
        column = getattr(codebook, role)
        if column and column not in cols:
            raise InputFileError(path, f"the codebook's {role} column {column!r} is not in this file")
    spec = codebook.files.get(path.name) or FileSpec()
    present = tuple(q.var for q in codebook.questions if q.var in cols)
    absent = tuple(q.var for q in codebook.questions if q.var not in cols)
    absent_groups = tuple(g.attr for g in codebook.groups if g.var not in cols and g.attr not in spec.columns)
    return FilePlan(
        name=path.name, format=meta.format, survey=spec.survey or codebook.survey,
        wave=spec.wave if spec.wave is not None else codebook.wave, constants=spec.columns,
        questions=present, absent_questions=absent, absent_groups=absent_groups,
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
            refusals = labelled(Option(code=c) for c in sorted(file_labels, key=_code_sort_key)
                                if c not in taken and looks_refusal(c))
            from_file |= bool(refusals)
    else:
        if not file_labels:
            where = ", ".join(m.path.name for m in metas)
            raise InputFileError(codebook_path, f"question {spec.var}: no options in the codebook and no "
                                                f"value labels for it in {where}")
        refusal_codes = {o.code for o in spec.refusal} if spec.refusal is not None else None
        codes = sorted(file_labels, key=_code_sort_key)
        is_refusal = (lambda c: c in refusal_codes) if refusal_codes is not None else looks_refusal
        options = labelled(Option(code=c) for c in codes if not is_refusal(c))
        refusals = labelled(spec.refusal) if spec.refusal is not None else labelled(
            Option(code=c) for c in codes if is_refusal(c))
        from_file = True
    if not options:
        raise InputFileError(codebook_path, f"question {spec.var}: every code is a refusal; no options left")
    options, option_aliases = _merge_same_labels(options)
    refusals, refusal_aliases = _merge_same_labels(refusals)
    text = spec.text or next((m.variable_labels[spec.var] for m in metas if spec.var in m.variable_labels), spec.var)
    ordinal = spec.ordinal if spec.ordinal is not None else codebook.ordinal
    return Question(
        var=spec.var, text=text, options=tuple(options), refusals=tuple(refusals), ordinal=ordinal,
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
    fplan = plan.file(path.name)
    book = plan.codebook
    fmt = file_format(path)
    if fmt in ("csv", "tsv"):
        frame = read_text_table(path, "," if fmt == "csv" else "\t")
        group_labels: dict[str, dict[str, str]] = {}
    else:
        frame, meta = _pyreadstat(path, fmt, output_format="polars")
        frame.columns = [c.strip().lower() for c in frame.columns]
        wanted = {book.weight, book.respondent_id, book.wave_column, *fplan.questions,
                  *(g.var for g in book.groups)}
        frame = _as_text(frame.select(c for c in frame.columns if c in wanted), fmt)
        code = _stata_code if fmt == "stata" else canonical_code
        group_labels = {c.lower(): {code(k): str(v) for k, v in labels.items()}
                        for c, labels in (meta.variable_value_labels or {}).items()}

    def column(name: str | None) -> pl.Expr:
        return pl.col(name).cast(pl.String) if name and name in frame.columns else pl.lit(None, pl.String)

    wave = column(book.wave_column) if book.wave_column else pl.lit(fplan.wave, pl.String)
    exprs = [
        pl.lit(path.name).alias("_file"),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("_row"),
        pl.lit(fplan.survey).alias("_survey"),
        wave.alias("_wave"),
        column(book.weight).str.strip_chars().alias("_weight"),
        column(book.respondent_id).alias("_rid"),
    ]
    for g in book.groups:
        exprs.append(_group_expr(g, frame.columns, fplan, group_labels.get(g.var, {})).alias(g.attr))
    exprs += [canonical_code_expr(pl.col(q)).alias(q) for q in fplan.questions]
    return frame.select(exprs)


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
