"""Reading option files: YAML mappings validated into pydantic models, errors naming the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import math

import yaml
from pydantic import BaseModel, ValidationError

from pipelines.errors import CurateError, InputFileError

Model = TypeVar("Model", bound=BaseModel)


class StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in one mapping is an error (PyYAML lets
    the last one win, silently: a second `weight:` would change every probability)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: the base class reports it
                    break
                if first is not None:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r} (first at line {first})", key_node.start_mark)
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


def load_yaml(path: Path, what: str = "config") -> Any:
    """A YAML file read strictly: UTF-8 (or UTF-16/32 with a BOM), no duplicate keys; errors name
    the file and line."""
    from sources.files import read_text

    text = read_text(path)
    try:
        return yaml.load(text, Loader=StrictLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise InputFileError(path, f"{what} is not valid YAML: {where}{problem}") from None


def read_yaml_mapping(path: Path, what: str = "config") -> dict[str, Any]:
    if not path.exists():
        raise InputFileError(path, f"{what} file not found")
    data = load_yaml(path, what) or {}
    if not isinstance(data, dict):
        raise InputFileError(path, f"{what} must be a YAML mapping of option: value")
    return data


def non_finite(data: Any, where: str = "") -> str | None:
    """The first option (dotted path) whose value is NaN or infinite: never a meaningful setting."""
    if isinstance(data, float) and not math.isfinite(data):
        return where or "value"
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        found = non_finite(value, f"{where}.{key}" if where else str(key))
        if found:
            return found
    return None


def validated(model: type[Model], data: dict[str, Any], where: Path | None, what: str) -> Model:
    """`model(**data)`, or one CurateError listing every invalid option with its location."""
    bad = non_finite(data)
    if bad:
        raise CurateError(f"{where or 'command line'}: invalid {what}: {bad}: must be a finite number, not {_dig(data, bad)}")
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


def _dig(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part] if isinstance(data, dict) else data
    return data
