"""Reading option files: YAML mappings validated into pydantic models, errors naming the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from pipelines.errors import CurateError, InputFileError

Model = TypeVar("Model", bound=BaseModel)


def read_yaml_mapping(path: Path, what: str = "config") -> dict[str, Any]:
    if not path.exists():
        raise InputFileError(path, f"{what} file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise InputFileError(path, f"not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise InputFileError(path, f"{what} must be a YAML mapping of option: value")
    return data


def validated(model: type[Model], data: dict[str, Any], where: Path | None, what: str) -> Model:
    """`model(**data)`, or one CurateError listing every invalid option with its location."""
    try:
        return model(**data)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}" for err in e.errors())
        raise CurateError(f"{where or 'command line'}: invalid {what}: {problems}") from None


def load_options(model: type[Model], path: Path | None, overrides: dict[str, Any] | None = None,
                 what: str = "config") -> Model:
    """Options from a YAML file (if any), then `overrides` that are not None, validated."""
    data = read_yaml_mapping(path, what) if path is not None else {}
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return validated(model, data, path, what)
