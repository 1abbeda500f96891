"""The idempotency ledger: the outcome of every tool call, by idempotency key.

A call is claimed (a pending row) before it runs and completed after; a key that is
already complete returns its recorded outcome instead of running the tool again. A key
still pending means an earlier attempt died mid-call: its effect may or may not exist.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.tool_executor.sqlite import connect, immediate

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger (
  idempotency_key TEXT PRIMARY KEY,
  tool TEXT NOT NULL,
  arguments_hash TEXT NOT NULL,
  ok INTEGER,  -- NULL while the call is pending
  result_json TEXT NOT NULL DEFAULT '',
  error_code TEXT NOT NULL DEFAULT '',
  error_message TEXT NOT NULL DEFAULT '',
  claimed_at TEXT NOT NULL,
  completed_at TEXT
);
"""


def canonical_json(value: Mapping[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def arguments_hash(arguments: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(arguments).encode()).hexdigest()


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What a tool call produced: a JSON result, or an error code and message."""

    ok: bool
    result_json: str = ""
    error_code: str = ""
    error_message: str = ""


@dataclass(frozen=True, kw_only=True)
class LedgerEntry:
    tool: str
    arguments_hash: str
    # None while the call is pending.
    outcome: Outcome | None


class IdempotencyLedger:
    """Example (on the thread that opened it):

    >>> ledger = IdempotencyLedger(path)  # doctest: +SKIP
    >>> if ledger.claim(key, tool="lookup_order", arguments_hash=h) is None:  # doctest: +SKIP
    ...     ledger.complete(key, Outcome(ok=True, result_json="{}"))
    """

    def __init__(self, path: Path) -> None:
        self._db = connect(path)
        self._db.executescript(_SCHEMA)

    def claim(self, key: str, *, tool: str, arguments_hash: str) -> LedgerEntry | None:
        """Records `key` as pending and returns None, or returns the entry it already has."""
        with immediate(self._db) as db:
            row = db.execute("SELECT * FROM ledger WHERE idempotency_key = ?", (key,)).fetchone()
            if row is not None:
                return _entry(row)
            db.execute(
                "INSERT INTO ledger (idempotency_key, tool, arguments_hash, claimed_at)"
                " VALUES (?, ?, ?, ?)",
                (key, tool, arguments_hash, _now()),
            )
        return None

    def complete(self, key: str, outcome: Outcome) -> None:
        self._db.execute(
            "UPDATE ledger SET ok = ?, result_json = ?, error_code = ?, error_message = ?,"
            " completed_at = ? WHERE idempotency_key = ?",
            (
                outcome.ok,
                outcome.result_json,
                outcome.error_code,
                outcome.error_message,
                _now(),
                key,
            ),
        )


def _entry(row: sqlite3.Row) -> LedgerEntry:
    outcome = None
    if row["ok"] is not None:
        outcome = Outcome(
            ok=bool(row["ok"]),
            result_json=row["result_json"],
            error_code=row["error_code"],
            error_message=row["error_message"],
        )
    return LedgerEntry(tool=row["tool"], arguments_hash=row["arguments_hash"], outcome=outcome)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
