"""Recipes: a name, a typed configuration, and a `build` that chains steps into published tables.

A recipe module defines `NAME`, `DESCRIPTION`, `Config` (a pydantic model) and
`build(ctx, inputs, config) -> RecipeOutput`. The registry below maps names to modules; modules are
imported on demand so that `curate --help` stays fast.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import polars as pl
import yaml
from pydantic import BaseModel, ValidationError

from pipelines.errors import CurateError, InputFileError

RECIPES: dict[str, str] = {
    "personality": "pipelines.recipes.personality",
    "values": "pipelines.recipes.values",
    "expand": "pipelines.recipes.expand",
    "preferences": "pipelines.recipes.preferences",
    "translate": "pipelines.recipes.translate",
    "norms": "pipelines.recipes.norms",
}


class RecipeConfig(BaseModel):
    model_config = {"extra": "forbid"}

    license: str = "unknown"  # SPDX-style id for the card; the data's own license, not ours
    dataset_name: str | None = None


@dataclass
class CardSection:
    title: str
    body: str  # markdown


@dataclass
class CardMeta:
    pretty_name: str
    license: str
    languages: list[str]
    task_categories: list[str]
    tags: list[str] = field(default_factory=list)
    source_datasets: list[str] = field(default_factory=list)
    summary: str = ""
    citation: str = ""
    limitations: list[str] = field(default_factory=list)
    personal_information: str = ""
    fields: dict[str, dict[str, str]] = field(default_factory=dict)  # config -> column -> description


@dataclass
class RecipeOutput:
    tables: dict[str, pl.DataFrame]  # config name -> records
    card: CardMeta
    sections: list[CardSection] = field(default_factory=list)  # recipe-specific measured facts
    plots: list = field(default_factory=list)  # data_cards.plots.Plot specs, drawn with the card


def get_recipe(name: str) -> ModuleType:
    if name not in RECIPES:
        raise CurateError(f"unknown recipe {name!r}; known recipes: {', '.join(sorted(RECIPES))}")
    return importlib.import_module(RECIPES[name])


def load_config(recipe: ModuleType, path: Path | None, overrides: dict[str, Any] | None = None):
    data: dict[str, Any] = {}
    if path is not None:
        if not path.exists():
            raise InputFileError(path, "config file not found")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise InputFileError(path, f"not valid YAML: {e}") from None
        if not isinstance(data, dict):
            raise InputFileError(path, "config must be a YAML mapping of option: value")
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return recipe.Config(**data)
    except ValidationError as e:
        where = str(path) if path else "command line"
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()
        )
        raise CurateError(f"{where}: invalid configuration for recipe {recipe.NAME}: {problems}") from None
