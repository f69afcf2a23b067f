"""Reading option files: YAML mappings validated into pydantic models, errors naming the file."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from schemas.errors import CurateError, InputFileError
from sources.files import check_readable, load_yaml

Model = TypeVar("Model", bound=BaseModel)
NON_FINITE_TEXT = re.compile(r"^\s*[+-]?\.?(nan|inf|infinity)\s*$", re.I)
# a number YAML 1.1 reads as text (no dot: 1e400), which the model reads as a float: past 1.8e308, inf
NUMBER_TEXT = re.compile(r"^\s*[+-]?(\d[\d_]*\.?[\d_]*|\.\d[\d_]*)[eE][+-]?\d+\s*$")


def read_yaml_mapping(path: Path, what: str = "config") -> dict[str, Any]:
    if not path.exists():
        raise InputFileError(path, f"{what} file not found")
    check_readable(path, allow_empty=True)  # a pipe or a device would be waited on for ever
    data = load_yaml(path, what) or {}
    if not isinstance(data, dict):
        raise InputFileError(path, f"{what} must be a YAML mapping of option: value")
    return data


def non_finite(data: Any, where: str = "") -> str | None:
    """The first option (dotted path) whose value is NaN or infinite: never a meaningful setting."""
    if isinstance(data, float) and not math.isfinite(data):
        return where or "value"
    if isinstance(data, str) and NON_FINITE_TEXT.match(data):  # "nan", "inf" on the command line, as text
        return where or "value"
    if isinstance(data, str) and NUMBER_TEXT.match(data) and math.isinf(float(data.replace("_", ""))):
        return where or "value"  # "1e400": refused as infinite before a bound's message could hide it
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        found = non_finite(value, f"{where}.{key}" if where else str(key))
        if found:
            return found
    return None


def validated(model: type[Model], data: dict[str, Any], where: Path | None, what: str) -> Model:
    """`model(**data)`, or one CurateError listing every invalid option with its location. A NaN or
    infinite number is refused as given (.nan, .inf) and as the model reads it ("inf", "1e400")."""
    bad = non_finite(data)
    if bad:
        raise CurateError(f"{where or 'command line'}: invalid {what}: {bad}: {_finite_message(_dig(data, bad))}")
    try:
        result = model(**data)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}" for err in e.errors())
        raise CurateError(f"{where or 'command line'}: invalid {what}: {problems}") from None
    bad = non_finite(result.model_dump())
    if bad:
        raise CurateError(f"{where or 'command line'}: invalid {what}: {bad}: {_finite_message(_dig(data, bad, '?'))}")
    return result


def _finite_message(value: Any) -> str:
    kind = (
        "NaN (not a number)"
        if isinstance(value, float) and math.isnan(value) or str(value).strip().lower() in ("nan", ".nan")
        else "infinite"
    )
    return f"must be a finite number, not {value!r}: {kind}"


def load_options(
    model: type[Model],
    path: Path | None,
    overrides: dict[str, Any] | None = None,
    what: str = "config",
    defaults: dict[str, Any] | None = None,
) -> Model:
    """Options from a YAML file (if any), then `overrides` that are not None, then `defaults` for
    the options neither gave, validated."""
    data = read_yaml_mapping(path, what) if path is not None else {}
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    for key, value in (defaults or {}).items():
        data.setdefault(key, value)
    return validated(model, data, path, what)


def _dig(data: Any, dotted: str, default: Any = None) -> Any:
    for part in dotted.split("."):
        try:
            data = data[int(part)] if isinstance(data, list) else data[part] if isinstance(data, dict) else data
        except (KeyError, IndexError, ValueError):
            return default
    return data
