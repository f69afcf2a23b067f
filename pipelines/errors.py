"""Moved to `schemas.errors` (the bottom layer, so that sources can raise them without importing
the pipelines). Kept so that existing imports go on working."""

from schemas.errors import CurateError, InputFileError

__all__ = ["CurateError", "InputFileError"]
