"""Recipe `preferences` (see recipe.py): this folder holds its steps, records, card and review."""

from .recipe import Config, Preferences
from .records import persona_text
from .steps import GenerateCandidates, JudgePairs, ReadRecords, judgement_model

RECIPE = Preferences()
build = RECIPE.build
check_inputs = RECIPE.check_inputs

__all__ = [
    "RECIPE",
    "Config",
    "GenerateCandidates",
    "JudgePairs",
    "ReadRecords",
    "build",
    "check_inputs",
    "judgement_model",
    "persona_text",
]
