"""Recipe `translate` (see recipe.py): this folder holds its steps, records, card and review."""

from .recipe import Config, TranslateRecipe, load_demonstrations
from .steps import (
    MORAL_STORIES_FIELDS,
    CheckConfig,
    CheckTranslations,
    LoadConfig,
    LoadSource,
    Translate,
    ValidateConfig,
    ValidateSource,
    detect_language,
    load_rows,
    translation_model,
)

RECIPE = TranslateRecipe()
build = RECIPE.build
check_inputs = RECIPE.check_inputs

__all__ = [
    "MORAL_STORIES_FIELDS",
    "RECIPE",
    "CheckConfig",
    "CheckTranslations",
    "Config",
    "LoadConfig",
    "LoadSource",
    "Translate",
    "ValidateConfig",
    "ValidateSource",
    "build",
    "check_inputs",
    "detect_language",
    "load_demonstrations",
    "load_rows",
    "translation_model",
]
