"""Credentials inside URLs (`https://user:password@host/v1` in CURATE_LLM_BASE_URL, a Dask or
Argilla address) never reach the console, a log, Prefect's database or a file we write.

`redact(text)` replaces the user-info part of every URL in `text`; `install_log_redaction()` makes
every log record of the process pass through it before any handler sees it (Prefect's API log
handler included, which stores records in Prefect's database)."""

from __future__ import annotations

import logging
import re

# scheme://user-info@ : user-info is everything up to the last '@' before the host part
USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^\s/@?#]+)@")
MASK = "***"


def redact(text: str) -> str:
    if "@" not in text or "://" not in text:
        return text
    return USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)


def redact_value(value):
    """`redact` through strings, lists, tuples and dicts (e.g. flow parameters)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_value(v) for v in value)
    return value


_installed = False


def install_log_redaction() -> None:
    """Redact URL credentials in every log record made from now on, in this process."""
    global _installed
    if _installed:
        return
    _installed = True
    make_record = logging.getLogRecordFactory()

    def factory(*args, **kwargs):
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the handler to report
            return record
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and record.exc_info[1] is not None:
            import traceback

            text = "".join(traceback.format_exception(*record.exc_info))
            if redact(text) != text:
                record.msg = f"{record.msg}\n{redact(text)}"
                record.exc_info, record.exc_text = None, None
        return record

    logging.setLogRecordFactory(factory)
