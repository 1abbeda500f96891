"""A durable record of the step events a service has fully handled, so a redelivered or
re-published event (same event id) is recognised and skipped instead of run twice.

An id is recorded only after the event's outcome is published, so a crash in between
means the event runs again; its outputs then carry the same derived ids
(`shared.contracts.derived_id`) and the next service skips them in turn.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from shared.storage import SqliteWorker

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
        self._retention_s = retention_s
        self._worker = SqliteWorker(path, schema=_SCHEMA, name="dedupe")
        self._recorded = 0

    async def open(self) -> None:
        """Create the file now rather than on the first event."""
        await self._worker.run(lambda _: None)

    async def close(self) -> None:
        await self._worker.close()

    async def seen(self, event_id: str) -> bool:
        return await self._worker.run(lambda db: self._seen(db, event_id))

    async def record(self, event_id: str) -> None:
        await self._worker.run(lambda db: self._record(db, event_id))

    @staticmethod
    def _seen(db: sqlite3.Connection, event_id: str) -> bool:
        row = db.execute("SELECT 1 FROM processed WHERE event_id = ?", (event_id,)).fetchone()
        return row is not None

    def _record(self, db: sqlite3.Connection, event_id: str) -> None:
        now = time.time()
        db.execute(
            "INSERT OR IGNORE INTO processed (event_id, processed_at) VALUES (?, ?)",
            (event_id, now),
        )
        self._recorded += 1
        if self._recorded % 1000 == 0:
            db.execute("DELETE FROM processed WHERE processed_at < ?", (now - self._retention_s,))
