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
from pydantic import BaseModel, model_validator

from pipelines.errors import CurateError

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

    license: str = "unknown"  # a Hub license id for the card; the data's own license, not ours
    license_name: str | None = None  # with license: other, the license's name
    dataset_name: str | None = None

    @model_validator(mode="after")
    def _hub_license(self):  # checked at load time, so a bad license fails before any work
        from data_cards.card import check_license

        self.license = check_license(self.license, self.license_name)
        return self


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
    from pipelines.config import load_options

    return load_options(recipe.Config, path, overrides, what=f"configuration for recipe {recipe.NAME}")
