"""Recipe `personality` (see recipe.py): this folder holds its steps, records, card and review."""

from .recipe import Config, Personality, persona_hook
from .records import respondent_records
from .steps import DedupeRespondents, KeyAndScore, ReadConfig, ReadResponses, ScoreConfig, ValidateAnswers

RECIPE = Personality()
build = RECIPE.build
check_inputs = RECIPE.check_inputs

__all__ = [
    "RECIPE",
    "Config",
    "DedupeRespondents",
    "KeyAndScore",
    "ReadConfig",
    "ReadResponses",
    "ScoreConfig",
    "ValidateAnswers",
    "build",
    "check_inputs",
    "persona_hook",
    "respondent_records",
]
