"""The codebook of survey microdata (YAML or CSV, see README "values"): the questions, their ordered
options and refusal codes, the weight, the group columns and the survey design; and the canonical
spelling of answer codes that both the codebook and the microdata reader use."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import BaseModel, ValidationError, field_validator, model_validator

from schemas.errors import InputFileError, validation_problems
from sources.design import Design
from sources.files import TextLoader, check_readable, read_header, read_text_table, yaml_mapping

CODEBOOK_SUFFIXES = {".yaml", ".yml"}
CODEBOOK_CSV_COLUMNS = {"role", "var"}
# Labels that mean "no substantive answer" when neither the codebook nor the file (SPSS missing
# values, Stata extended missing values) says which codes are refusals.
DEFAULT_REFUSAL_PATTERN = (
    r"(?i)\b(refused|refusal|don'?t know|do not know|no answer|not sure|prefer not to (say|answer)|dk/?na)\b"
)


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


def _label(code: Any, label: Any) -> str | None:
    """An option's label as text: a string or a number as written; a list or a mapping is an error
    (it would be published as its Python text)."""
    if label is None or isinstance(label, str):
        return label
    if isinstance(label, (int, float)) and not isinstance(label, bool):
        return str(label)
    raise ValueError(f"option {code!r}: its label must be text, not {type(label).__name__} {label!r}")


def _as_options(value: Any) -> Any:
    """Options as written in YAML: a mapping {code: label} (in order), a list of {code, label}, or a
    list of bare codes."""
    if value is None:
        return None
    if isinstance(value, dict):
        return [{"code": k, "label": _label(k, v)} for k, v in value.items()]
    if isinstance(value, list):
        return [v if isinstance(v, dict) else {"code": v} for v in value]
    return value


class GroupSpec(Frozen):
    var: str  # the column in the microdata
    name: str | None = None  # the attribute's name in the output (default: var)
    labels: dict[str, str] = {}  # code -> label, overriding the file's value labels
    country: bool | None = None  # values are countries, harmonized to ISO 3166; default: named `country`

    @field_validator("var", mode="before")
    @classmethod
    def _lower(cls, v: Any) -> str:
        return str(v).strip().lower()

    @field_validator("labels", mode="before")
    @classmethod
    def _codes(cls, v: Any) -> dict[str, str]:
        return {canonical_code(k): _label(k, label) for k, label in (v or {}).items()}

    @property
    def attr(self) -> str:
        return self.name or self.var

    @property
    def is_country(self) -> bool:
        return self.country if self.country is not None else "country" in (self.var, self.attr)


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
    design: Design | None = None  # strata / psu / fpc, or replicate weights (sources/design.py)

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
            if isinstance(data.get("design"), dict):
                data["design"] = _lower_design(data["design"])
            if data.get("wave") is not None:
                data["wave"] = str(data["wave"])
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Codebook:
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

    @property
    def design_columns(self) -> list[str]:
        """The columns the design names (replicate columns given by a prefix are found per file)."""
        d = self.design
        if d is None:
            return []
        if d.replicates:
            return list(d.replicates.columns)
        return [c for c in (d.strata, d.psu, d.fpc) if c]


def _lower_design(design: dict) -> dict:
    out = {
        k: (str(v).strip().lower() if k in ("strata", "psu", "fpc") and v is not None else v) for k, v in design.items()
    }
    reps = out.get("replicates")
    if isinstance(reps, dict):
        reps = dict(reps)
        reps["columns"] = [str(c).strip().lower() for c in reps.get("columns") or []]
        if reps.get("prefix"):
            reps["prefix"] = str(reps["prefix"]).strip().lower()
        out["replicates"] = reps
    return out


def is_codebook(path: Path) -> bool:
    """A YAML file, or a CSV whose header has the codebook's `role` and `var` columns."""
    if path.suffix.lower() in CODEBOOK_SUFFIXES:
        return True
    if path.suffix.lower() != ".csv":
        return False
    try:
        head = read_header(path)  # UTF-8/BOM checked, names too
    except Exception:  # not a readable CSV: the microdata reader will say so
        return False
    return CODEBOOK_CSV_COLUMNS <= set(head)


def load_codebook(path: Path) -> Codebook:
    path = check_readable(path)
    if path.suffix.lower() in CODEBOOK_SUFFIXES:
        data = yaml_mapping(path, "codebook", "survey, weight, groups, questions", TextLoader)  # Yes stays Yes
    else:
        data = _codebook_from_csv(path)
    try:
        return Codebook(**data)
    except ValidationError as e:
        raise InputFileError(path, f"invalid codebook: {validation_problems(e, 'codebook')}") from None


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
            raise InputFileError(
                path,
                f"row {i}: unknown role {role!r} (survey, wave, lang, weight, "
                "respondent_id, wave_column, group, question)",
            )
    data["groups"] = list(groups.values())
    for q in questions.values():
        q["options"] = q["options"] or None
        q["refusal"] = q["refusal"] or None
    data["questions"] = list(questions.values())
    return data
