"""A recipe's contract: its folder's `recipe.yaml`, read without importing the recipe's code (so
`curate recipes` lists recipes in a blink) and checked when the recipe is loaded and when it runs.

```yaml
description: text files -> one record per line of at least min_chars characters
uses_llm: false            # it calls a model (then `curate run` starts the embedded engine when no endpoint is set)
needs_pseudonym_key: false # its output depends on CURATE_PSEUDONYM_KEY (a schedule without a persistent key is refused)
outputs:                   # every config it publishes -> the column(s) keeping related rows in one split,
  lines: record_id         #   or `reference` (a table published whole in train)
inputs:                    # optional: the columns each input file matching a pattern must have
  "*.txt": []
only_with_llm: []          # optional: configs built only when a model is configured (their LLM step ran)
```

Checked when the recipe is loaded (`check_recipe`): the file parses into this model, its name is the
folder's, the class's ClassLabel columns belong to declared configs. Checked before any work
(`check_input_columns`): each input file matching a pattern has the columns, else one line naming the
file and the missing columns. Checked after `build` (`check_output`): the tables are the declared
configs, each with its split key columns. Every failure is one line naming the recipe and what is
missing (`RecipeContractError`, exit 2).
"""

from __future__ import annotations

import fnmatch
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from schemas.errors import CurateError, InputFileError

FILE = "recipe.yaml"
REFERENCE = "reference"


class RecipeContractError(CurateError):
    """A recipe that does not keep its contract: one line naming the recipe and what is missing."""


class RecipeContract(BaseModel):
    model_config = {"extra": "forbid", "frozen": True}

    name: str = ""  # the folder's name (set when read)
    description: str = Field(min_length=1)
    uses_llm: bool = False
    needs_pseudonym_key: bool = False
    outputs: dict[str, str | list[str]] = Field(min_length=1)
    inputs: dict[str, list[str]] = Field(default_factory=dict)
    only_with_llm: list[str] = Field(default_factory=list)  # configs built only when the model is there

    @model_validator(mode="after")
    def _llm_outputs(self):
        unknown = [c for c in self.only_with_llm if c not in self.outputs]
        if unknown:
            raise ValueError(f"only_with_llm names {', '.join(unknown)}, which outputs does not declare")
        if self.only_with_llm and not self.uses_llm:
            raise ValueError("only_with_llm without uses_llm: true")
        return self

    @field_validator("outputs")
    @classmethod
    def _keys(cls, value: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        for config, key in value.items():
            if not config or isinstance(key, list) and (not key or not all(isinstance(k, str) and k for k in key)):
                raise ValueError(f"outputs: {config!r}: a column, a list of columns, or {REFERENCE}")
        return value

    def split_keys(self) -> dict[str, str | list[str] | None]:
        """Config -> grouping column(s), None for a reference table (data_cards.hub.HubSpec.split_keys)."""
        return {c: (None if k == REFERENCE else k) for c, k in self.outputs.items()}


def read_contract(folder: Path) -> RecipeContract:
    """The contract in `folder/recipe.yaml`, or one line naming the recipe and what is wrong."""
    return _read(Path(folder).resolve())


@cache
def _read(folder: Path) -> RecipeContract:
    from sources.files import load_yaml

    path = folder / FILE
    name = folder.name
    if not path.is_file():
        raise RecipeContractError(f"recipe {name}: {path} is missing (its contract: description, outputs)")
    data = load_yaml(path, what=f"contract of recipe {name}")
    if not isinstance(data, dict):
        raise RecipeContractError(f"recipe {name}: {path} must be a mapping (description, outputs, ...)")
    if data.get("name", name) != name:
        raise RecipeContractError(f"recipe {name}: {path} names it {data['name']!r}; a recipe is named by its folder")
    try:
        return RecipeContract(**{**data, "name": name})
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "contract"
        raise RecipeContractError(f"recipe {name}: {path}: {where}: {first['msg']}") from None


def check_recipe(contract: RecipeContract, class_labels: dict[str, Any]) -> None:
    """At load: what the recipe's code declares beside the contract agrees with it."""
    unknown = sorted(set(class_labels) - set(contract.outputs))
    if unknown:
        raise RecipeContractError(
            f"recipe {contract.name}: ClassLabel columns for {', '.join(unknown)}, which "
            f"{FILE} does not declare in outputs ({', '.join(contract.outputs)})"
        )


def check_input_columns(contract: RecipeContract, inputs: list[Path]) -> None:
    """Before any work: each input matching a pattern of `inputs` has the columns it lists."""
    if not contract.inputs:
        return
    from sources.tables import table_columns

    for path in map(Path, inputs):
        for pattern, needed in contract.inputs.items():
            if needed and fnmatch.fnmatch(path.name.lower(), pattern.lower()):
                have = {c.strip().lower() for c in table_columns(path)}
                missing = [c for c in needed if c.lower() not in have]
                if missing:
                    raise InputFileError(
                        path,
                        f"has no column {', '.join(map(repr, missing))} (recipe "
                        f"{contract.name} reads {', '.join(needed)} from {pattern})",
                    )


def check_output(contract: RecipeContract, tables: dict[str, Any]) -> None:
    """After `build`: the tables are the declared configs, each with its split key columns."""
    declared, made = list(contract.outputs), list(tables)
    missing = [c for c in declared if c not in tables and c not in contract.only_with_llm]
    extra = [c for c in made if c not in contract.outputs]
    if missing or extra:
        said = "; ".join(
            part
            for part in (
                f"declared but not built: {', '.join(missing)}" if missing else "",
                f"built but not declared: {', '.join(extra)}" if extra else "",
            )
            if part
        )
        raise RecipeContractError(f"recipe {contract.name}: its tables do not match {FILE} outputs ({said})")
    for config, key in contract.split_keys().items():
        if config not in tables:  # an LLM config not built (no model): the report says why
            continue
        columns = [key] if isinstance(key, str) else (key or [])
        absent = [c for c in columns if c not in tables[config].columns]
        if absent:
            raise RecipeContractError(
                f"recipe {contract.name}: config {config} has no column {', '.join(absent)}, its split key in {FILE}"
            )
