"""Where recipes are: their folders by name, found without importing any recipe code (so that
`curate recipes`, prompt lookup and the registry's checks stay fast and below the recipes' layer).

A recipe is a folder `<name>/` with an `__init__.py` and a `recipe.yaml` (its contract). Folders are
searched in this order, the first of a name wins:

1. the folders named in `$CURATE_RECIPE_PATH` (separated like PATH), each holding recipe folders;
2. the shipped recipes, `pipelines/recipes/`.
"""

from __future__ import annotations

import os
from pathlib import Path

SHIPPED = Path(__file__).resolve().parent.parent / "recipes"  # the shipped recipes: pipelines/recipes/
PATH_ENV = "CURATE_RECIPE_PATH"


def recipe_dirs() -> list[Path]:
    """The folders searched for recipe folders, in order."""
    extra = [Path(p) for p in os.environ.get(PATH_ENV, "").split(os.pathsep) if p]
    return [*extra, SHIPPED]


def _is_recipe(folder: Path) -> bool:
    return folder.is_dir() and (folder / "__init__.py").is_file() and not folder.name.startswith(("_", "."))


def available() -> dict[str, Path]:
    """Recipe name -> its folder, for every recipe found (sorted by name)."""
    found: dict[str, Path] = {}
    for root in recipe_dirs():
        if root.is_dir():
            for folder in sorted(root.iterdir()):
                if _is_recipe(folder) and folder.name not in found:
                    found[folder.name] = folder
    return dict(sorted(found.items()))
