"""The sample runs behind `curate demo`: every recipe on the sources shipped in sources/samples/,
as each recipe declares them (`Recipe.demo_inputs`, `Recipe.demo_run`)."""

from __future__ import annotations

from pathlib import Path


def demo_runs(samples: Path) -> list[tuple[str, list[Path], Path | None]]:
    from pipelines.recipes import available, get_recipe

    runs = []
    for name in available():
        recipe = get_recipe(name)
        inputs, config = recipe.demo_run(samples)
        if inputs:  # a recipe without samples shipped has no demo run
            runs.append((name, inputs, config))
    return runs
