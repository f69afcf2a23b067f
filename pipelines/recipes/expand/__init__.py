"""Recipe `expand` (see recipe.py): this folder holds its steps, records, card and review."""

from .recipe import Config, Expand
from .steps import GenerateScenarios, JudgeScenarios, ReadItems, ValidateItems, scenario_set_model

RECIPE = Expand()
build = RECIPE.build
check_inputs = RECIPE.check_inputs

__all__ = [
    "RECIPE",
    "Config",
    "GenerateScenarios",
    "JudgeScenarios",
    "ReadItems",
    "ValidateItems",
    "build",
    "check_inputs",
    "scenario_set_model",
]
