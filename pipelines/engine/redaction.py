"""Credentials inside URLs (`https://user:password@host/v1` in CURATE_LLM_BASE_URL, a Dask or
Argilla address) never reach the console, a log, Prefect's database or a file we write.

`redact(text)` replaces the user-info part of every URL in `text`; `install_log_redaction()` makes
every log record of the process pass through it before any handler sees it (Prefect's API log
handler included, which stores records in Prefect's database).

An address with credentials that must travel to where it is used (`--dask-address tls://user:pw@host`,
through the RunRequest, a Prefect parameter stored in its database, a schedule's deployment) travels
redacted: `conceal(url)` keeps the real value in this process's environment, which the processes
it starts inherit (Prefect's runner of scheduled runs, Dask workers), under a name derived from the
redacted form, and returns the redacted form; `reveal(redacted)` gives the real value back at the
moment of connecting, and only there."""

from __future__ import annotations

import hashlib
import logging
import os
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


def _secret_name(shown: str) -> str:
    return "CURATE_SECRET_URL_" + hashlib.blake2b(shown.encode(), digest_size=8).hexdigest().upper()


def conceal(url: str | None) -> str | None:
    """The form of `url` to show and store (credentials masked); the real value stays retrievable by
    `reveal` in this process and the processes it starts."""
    if not url:
        return url
    shown = redact(url)
    if shown != url:
        os.environ[_secret_name(shown)] = url
    return shown


def reveal(shown: str | None) -> str | None:
    """The real value of an address `conceal` masked (to connect with); other values as they are."""
    if not shown or f"://{MASK}@" not in shown:
        return shown
    real = os.environ.get(_secret_name(shown))
    if real is None:
        from schemas.errors import CurateError

        raise CurateError(
            f"{shown}: this process does not know the credentials of this address (they are "
            "never stored); give the address again, or set CURATE_DASK_ADDRESS"
        )
    return real


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
