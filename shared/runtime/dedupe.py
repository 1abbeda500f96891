"""A durable record of the step events a service has fully handled, so a redelivered or
re-published event (same event id) is recognised and skipped instead of run twice.

An id is recorded only after the event's outcome is published, so a crash in between
means the event runs again; its outputs then carry the same derived ids
(`shared.contracts.derived_id`) and the next service skips them in turn.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

_T = TypeVar("_T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS processed (
  event_id TEXT PRIMARY KEY,
  processed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS processed_at ON processed (processed_at);
"""


class ProcessedEvents:
    """Example:

    >>> processed = ProcessedEvents(Path("var/intent/processed-events.sqlite3"))
    >>> await processed.open()  # doctest: +SKIP
    >>> await processed.seen("e1"), await processed.record("e1")  # doctest: +SKIP
    """

    def __init__(self, path: Path, *, retention_s: float = 7 * 24 * 3600) -> None:
        self._path = path
        self._retention_s = retention_s
        # SQLite connections belong to one thread: every call goes through this one.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dedupe")
        self._db: sqlite3.Connection | None = None
        self._recorded = 0

    async def open(self) -> None:
        await self._run(self._open)

    async def close(self) -> None:
        await self._run(self._close)
        self._executor.shutdown(wait=True)

    async def seen(self, event_id: str) -> bool:
        return await self._run(self._seen, event_id)

    async def record(self, event_id: str) -> None:
        await self._run(self._record, event_id)

    async def _run(self, function: Callable[..., _T], *args: object) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA busy_timeout=5000")
            db.executescript(_SCHEMA)
            self._db = db
        return self._db

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _seen(self, event_id: str) -> bool:
        row = (
            self._open()
            .execute("SELECT 1 FROM processed WHERE event_id = ?", (event_id,))
            .fetchone()
        )
        return row is not None

    def _record(self, event_id: str) -> None:
        db = self._open()
        now = time.time()
        db.execute(
            "INSERT OR IGNORE INTO processed (event_id, processed_at) VALUES (?, ?)",
            (event_id, now),
        )
        self._recorded += 1
        if self._recorded % 1000 == 0:
            db.execute("DELETE FROM processed WHERE processed_at < ?", (now - self._retention_s,))
