"""Recipe `norms` (see recipe.py): this folder holds its steps, records, card and review."""

from .recipe import Config, Norms
from .records import vote_table
from .steps import ParseVerdicts, VerdictConfig, detect_languages, normalize

RECIPE = Norms()
build = RECIPE.build
check_inputs = RECIPE.check_inputs

__all__ = [
    "RECIPE",
    "Config",
    "ParseVerdicts",
    "VerdictConfig",
    "build",
    "check_inputs",
    "detect_languages",
    "normalize",
    "vote_table",
]
