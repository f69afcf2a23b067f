"""Recipe `values` (see recipe.py): this folder holds its steps, records, card and review."""

from .recipe import Config, Values, plan_inputs, split_inputs
from .steps import ComputeDistributions, ReadMicrodata, ValidateAnswers, ValidateWeights

RECIPE = Values()
build = RECIPE.build
check_inputs = RECIPE.check_inputs

__all__ = [
    "RECIPE",
    "ComputeDistributions",
    "Config",
    "ReadMicrodata",
    "ValidateAnswers",
    "ValidateWeights",
    "build",
    "check_inputs",
    "plan_inputs",
    "split_inputs",
]
