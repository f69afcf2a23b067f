"""Where a step's log lines go: Prefect's run logger inside a flow or task, else the `curate` logger."""

from __future__ import annotations

import logging


def run_logger() -> logging.Logger | logging.LoggerAdapter:
    """Prefect's run logger inside a flow or task (so logs reach the UI), the module logger outside."""
    try:
        from prefect import get_run_logger

        return get_run_logger()
    except Exception:  # not inside a Prefect run
        return logging.getLogger("curate")
