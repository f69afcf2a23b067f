"""Recipes: one folder each, found where they are, not listed anywhere.

A recipe is a folder `<name>/` whose `__init__.py` defines `RECIPE`, an instance of a
`pipelines.recipes.base.Recipe` subclass (its steps, records, card, review specs and demo inputs
live beside it in that folder). Folders are searched in this order, the first of a name wins:

1. the folders named in `$CURATE_RECIPE_PATH` (separated like PATH), each holding recipe folders;
2. this package's own folder (the shipped recipes).

Adding a recipe means adding a folder; nothing else changes. Recipes are imported on demand, so
`curate --help` stays fast.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from pipelines.engine.recipe_folders import PATH_ENV, SHIPPED, available, recipe_dirs
from pipelines.recipes.base import (
    CardMeta,
    CardSection,
    Recipe,
    RecipeConfig,
    RecipeOutput,
)
from schemas.errors import CurateError

__all__ = [
    "PATH_ENV",
    "SHIPPED",
    "CardMeta",
    "CardSection",
    "Recipe",
    "RecipeConfig",
    "RecipeOutput",
    "available",
    "get_recipe",
    "load_config",
    "recipe_dirs",
]


def _module_name(folder: Path) -> str:
    if folder.parent == SHIPPED:
        return f"{__name__}.{folder.name}"
    return f"curate_recipes.{folder.name}"  # a recipe from $CURATE_RECIPE_PATH


def _import(folder: Path):
    name = _module_name(folder)
    if name in sys.modules:
        return sys.modules[name]
    if folder.parent == SHIPPED:
        return importlib.import_module(name)
    if "curate_recipes" not in sys.modules:  # a namespace for recipes from other folders
        spec = importlib.util.spec_from_loader("curate_recipes", loader=None, is_package=True)
        package = importlib.util.module_from_spec(spec)
        package.__path__ = []
        sys.modules["curate_recipes"] = package
    spec = importlib.util.spec_from_file_location(
        name, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def get_recipe(name: str) -> Recipe:
    found = available()
    if name not in found:
        raise CurateError(f"unknown recipe {name!r}; known recipes: {', '.join(found)}")
    module = _import(found[name])
    recipe = getattr(module, "RECIPE", None)
    if not isinstance(recipe, Recipe):
        raise CurateError(f"{found[name]}: a recipe folder's __init__.py must define RECIPE, a Recipe instance")
    if recipe.name != name:
        raise CurateError(f"{found[name]}: the folder is named {name!r} but its recipe calls itself {recipe.name!r}")
    return recipe


def load_config(
    recipe: Recipe, path: Path | None, overrides: dict[str, Any] | None = None, inherited: dict[str, Any] | None = None
):
    """The recipe's configuration: the YAML file, then `overrides` (`--set`); `inherited` (the terms of
    the repository's latest version, `pipelines.engine.publish.PublishPlan`) fills the options neither sets."""
    from pipelines.engine.config import load_options

    return load_options(
        recipe.Config, path, overrides, what=f"configuration for recipe {recipe.name}", defaults=inherited
    )
