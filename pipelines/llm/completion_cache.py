"""Completions kept on disk, keyed by (model, template hash, rendered prompt, parameters, schema).

Each completion is written as soon as it arrives (SQLite, one transaction per row), so after a crash
a rerun sends only the requests that had not finished. Failed requests are not cached.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path

import orjson

from pipelines.engine.disk import CACHE_HINT, is_no_space, no_space
from pipelines.llm.types import ChatRequest, Completion


def completion_key(model: str, request: ChatRequest) -> str:
    payload = orjson.dumps(
        {
            "model": model,
            "template": request.template_hash,
            "messages": request.messages,
            "params": request.params,
            "schema": request.schema,
        },
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.blake2b(payload, digest_size=20).hexdigest()


class CompletionCache:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a crash loses no committed row
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS completions (key TEXT PRIMARY KEY, text TEXT NOT NULL, "
            "prompt_tokens INTEGER, completion_tokens INTEGER, finish_reason TEXT)"
        )
        self._db.commit()

    @classmethod
    def under(cls, root: Path | str) -> CompletionCache:
        return cls(Path(root) / "llm" / "completions.sqlite")

    def get(self, key: str) -> Completion | None:
        with self._lock:
            row = self._db.execute(
                "SELECT text, prompt_tokens, completion_tokens, finish_reason FROM completions WHERE key = ?",
                (key,),
            ).fetchone()
        if row is None:
            return None
        return Completion(row[0], row[1] or 0, row[2] or 0, row[3], cached=True)

    def put(self, key: str, completion: Completion) -> None:
        if completion.text is None or completion.error:
            return
        with self._lock:
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO completions VALUES (?, ?, ?, ?, ?)",
                    (
                        key,
                        completion.text,
                        completion.prompt_tokens,
                        completion.completion_tokens,
                        completion.finish_reason,
                    ),
                )
                self._db.commit()
            except sqlite3.Error as e:
                self._db.rollback()  # the row's transaction, and nothing before it, is undone
                if is_no_space(e):
                    raise no_space(
                        e,
                        self.path,
                        "the LLM completion cache",
                        "the unfinished row was rolled back (completions saved before it are kept, "
                        "and a rerun sends only the others)",
                        CACHE_HINT,
                    ) from None
                raise

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM completions").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
