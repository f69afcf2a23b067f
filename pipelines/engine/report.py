"""The run report: one account per step, and the quarantine table they fill."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import polars as pl

from pipelines.engine.disk import temporary
from pipelines.engine.steps import Account
from schemas.quarantine import QUARANTINE_SCHEMA, empty_quarantine


class RunReport:
    def __init__(self, recipe: str):
        self.recipe = recipe
        self.accounts: list[Account] = []
        self._quarantine: list[pl.DataFrame] = []
        self.notes: list[str] = []  # plain facts for the card, e.g. "LLM steps skipped: ..."
        self.facts: dict[str, Any] = {}  # measured facts the card renders

    def add(self, account: Account, quarantine: pl.DataFrame | None = None) -> None:
        account.check()
        self.accounts.append(account)
        if quarantine is not None and quarantine.height:
            self._quarantine.append(quarantine.select(list(QUARANTINE_SCHEMA)))

    def step(self, name: str) -> Account:
        for account in self.accounts:
            if account.name == name:
                return account
        raise KeyError(name)

    @property
    def quarantine(self) -> pl.DataFrame:
        if not self._quarantine:
            return empty_quarantine()
        return pl.concat(self._quarantine, how="vertical")

    def to_dict(self) -> dict[str, Any]:
        return {
            "recipe": self.recipe,
            "steps": [a.to_dict() for a in self.accounts],
            "quarantined_total": sum(a.quarantined for a in self.accounts),
            "notes": self.notes,
            "facts": self.facts,
        }

    def write(self, out_dir: Path) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(
            out_dir / "report.json",
            orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY),
        )
        write_parquet_atomic(self.quarantine, out_dir / "quarantine.parquet")


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with temporary(tmp, str(path.name)):
        tmp.write_bytes(payload)
    tmp.replace(path)


def write_parquet_atomic(frame: pl.DataFrame, path: Path) -> None:
    """`path` whole or not at all (the quarantine table among others); out of space: one line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with temporary(tmp, str(path.name)):
        frame.write_parquet(tmp, compression="zstd", statistics=True)
    tmp.replace(path)
