"""`prepare(request)`: the checks that need no work, done once per request in a process and shared by
`curate run`, `curate demo`, schedules and the `curate-run` flow itself: the recipe (its contract),
its configuration, every input readable, named once, with the contract's columns and of the recipe's
kind (`Recipe.check`). The CLI calls it before the embedded LLM engine starts, so a wrong file or
option fails fast with one line; the flow then takes the same preparation instead of loading the
recipe and its configuration again."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from pipelines.engine.request import RunRequest
from pipelines.recipes import Recipe, RecipeConfig, get_recipe, load_config
from sources.files import check_distinct_names, check_readable


@dataclass(frozen=True)
class Prepared:
    request: RunRequest
    recipe: Recipe
    config: RecipeConfig
    inputs: tuple[Path, ...]


_done: dict[str, Prepared] = {}
_lock = threading.Lock()


def prepare(request: RunRequest) -> Prepared:
    key = request.model_dump_json()
    with _lock:
        if key in _done:
            return _done[key]
    recipe = get_recipe(request.recipe)
    config = load_config(
        recipe, Path(request.config_path) if request.config_path else None, request.overrides, request.inherited
    )
    inputs = [check_readable(p) for p in request.inputs]
    check_distinct_names(inputs)
    recipe.check(inputs, config)
    prepared = Prepared(request, recipe, config, tuple(inputs))
    with _lock:
        _done[key] = prepared
    return prepared


def forget(request: RunRequest) -> None:
    """Drop a request's preparation (after its run: a later run of the same request checks again)."""
    with _lock:
        _done.pop(request.model_dump_json(), None)
