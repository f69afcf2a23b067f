"""Errors the user can act on. The CLI prints these as one line and exits non-zero, no traceback."""


class CurateError(Exception):
    """An expected failure: bad input file, bad configuration, missing service."""


class InputFileError(CurateError):
    """A file that cannot be used: missing, unreadable or of the wrong format."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def validation_problems(error, whole: str) -> str:
    """A pydantic `ValidationError` as one line, `field.path: message; ...` (`whole` names an error of
    the whole object), without pydantic's "Value error, " prefix: for an InputFileError's problem."""
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or whole}: {err['msg'].removeprefix('Value error, ')}"
        for err in error.errors()
    )
