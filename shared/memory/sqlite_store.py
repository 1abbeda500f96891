"""Memory in one SQLite file (the embedded default), on the file's own worker thread.

Several processes may share the file: every write is one `BEGIN IMMEDIATE` transaction,
so turn numbers and task versions stay exact with concurrent writers.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from shared.memory import _sql
from shared.memory.base import DEFAULT_TIMEOUT_S, MemoryStoreBase, WriteStamp
from shared.memory.errors import TaskStateConflict
from shared.memory.records import Fact, SessionSummary, StoredTurn, TaskState, decode_document
from shared.memory.retention import MemoryRetention
from shared.storage import SqliteWorker

# Deleted (expired) rows are overwritten, not left in free pages of the file.
_SCHEMA = "PRAGMA secure_delete = ON;\n" + _sql.SCHEMA


class SqliteMemory(MemoryStoreBase):
    """Example: `SqliteMemory(Path("var/memory/memory.sqlite3"), retention)`."""

    kind = "sqlite"
    _driver_errors = (sqlite3.OperationalError, OSError)

    def __init__(
        self, path: Path, retention: MemoryRetention, *, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> None:
        super().__init__(retention, timeout_s=timeout_s)
        self.path = path
        self._db = SqliteWorker(path, schema=_SCHEMA, name="memory")

    async def _append_turns(
        self,
        tenant_id: str,
        session_id: str,
        request_id: str,
        turns: list[tuple[str, str]],
        stamp: WriteStamp,
    ) -> list[int]:
        def write(db: sqlite3.Connection) -> list[int]:
            with _transaction(db):
                first = _touch_session(db, tenant_id, session_id, len(turns), stamp)
                db.executemany(
                    "INSERT INTO memory_turns VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (tenant_id, session_id, first + n, role, content, request_id, stamp.at_ms)
                        for n, (role, content) in enumerate(turns)
                    ],
                )
            return list(range(first, first + len(turns)))

        return await self._db.run(write)

    async def _turns(
        self, tenant_id: str, session_id: str, last: int | None, now: int
    ) -> list[StoredTurn]:
        def read(db: sqlite3.Connection) -> list[StoredTurn]:
            rows = db.execute(
                _sql.NEWEST_TURNS, (tenant_id, session_id, now, -1 if last is None else last)
            ).fetchall()
            return [StoredTurn(*row) for row in reversed(rows)]

        return await self._db.run(read)

    async def _summary(self, tenant_id: str, session_id: str, now: int) -> SessionSummary | None:
        def read(db: sqlite3.Connection) -> SessionSummary | None:
            row = db.execute(_sql.SUMMARY, (tenant_id, session_id, now)).fetchone()
            return None if row is None else SessionSummary(text=row[0], through_seq=row[1])

        return await self._db.run(read)

    async def _put_summary(
        self, tenant_id: str, session_id: str, summary: SessionSummary, stamp: WriteStamp
    ) -> None:
        def write(db: sqlite3.Connection) -> None:
            with _transaction(db):
                _touch_session(db, tenant_id, session_id, 0, stamp)
                db.execute(
                    _sql.PUT_SUMMARY,
                    (tenant_id, session_id, summary.text, summary.through_seq, stamp.at_ms),
                )

        await self._db.run(write)

    async def _upsert_fact(self, tenant_id: str, user_id: str, fact: Fact, ttl_ms: int) -> None:
        def write(db: sqlite3.Connection) -> None:
            with _transaction(db):
                row = (tenant_id, user_id, fact.key, fact.value, fact.request_id, fact.at_unix_ms)
                db.execute(_sql.DROP_EXPIRED_FACTS_OF_USER, (tenant_id, user_id, fact.at_unix_ms))
                db.execute(_sql.UPSERT_FACT, (*row, fact.at_unix_ms + ttl_ms))
                db.execute(_sql.SLIDE_FACTS, (fact.at_unix_ms + ttl_ms, tenant_id, user_id))

        await self._db.run(write)

    async def _facts(self, tenant_id: str, user_id: str, now: int) -> list[Fact]:
        def read(db: sqlite3.Connection) -> list[Fact]:
            rows = db.execute(_sql.FACTS, (tenant_id, user_id, now)).fetchall()
            return [Fact(*row) for row in rows]

        return await self._db.run(read)

    async def _delete_fact(self, tenant_id: str, user_id: str, key: str, now: int) -> bool:
        def write(db: sqlite3.Connection) -> bool:
            return db.execute(_sql.DELETE_FACT, (tenant_id, user_id, key, now)).rowcount > 0

        return await self._db.run(write)

    async def _task_state(self, tenant_id: str, key: str, now: int) -> TaskState | None:
        def read(db: sqlite3.Connection) -> TaskState | None:
            row = db.execute(_sql.TASK_STATE, (tenant_id, key, now)).fetchone()
            if row is None:
                return None
            return TaskState(document=decode_document(row[0]), version=row[1], at_unix_ms=row[2])

        return await self._db.run(read)

    async def _put_task_state(
        self,
        tenant_id: str,
        key: str,
        document_json: str,
        expected_version: int,
        stamp: WriteStamp,
    ) -> int:
        def write(db: sqlite3.Connection) -> int:
            with _transaction(db):
                statement, parameters = _sql.task_state_write(
                    tenant_id, key, document_json, expected_version, stamp
                )
                written = db.execute(statement, parameters).fetchall()
                if not written:
                    row = db.execute(_sql.TASK_VERSION, (tenant_id, key, stamp.at_ms)).fetchone()
                    actual = 0 if row is None else int(row[0])
                    raise TaskStateConflict(
                        tenant_id, key, expected=expected_version, actual=actual
                    )
            return int(written[0][0])

        return await self._db.run(write)

    async def _prune_expired(self, now: int) -> int:
        def write(db: sqlite3.Connection) -> int:
            with _transaction(db):
                return sum(db.execute(statement, (now,)).rowcount for statement in _sql.PRUNE)

        return await self._db.run(write)

    async def _close(self) -> None:
        await self._db.close()


class _transaction:
    """`BEGIN IMMEDIATE` … `COMMIT`, rolled back on any exception."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")


def _touch_session(
    db: sqlite3.Connection, tenant_id: str, session_id: str, count: int, stamp: WriteStamp
) -> int:
    """Reserve `count` turn numbers (returns the first) and slide the session's expiry; a
    session that expired unswept starts again from nothing, as it would have under a TTL."""
    row = db.execute(_sql.SESSION, (tenant_id, session_id)).fetchone()
    first = 0
    if row is not None:
        next_seq, expires_at_ms = row
        if expires_at_ms <= stamp.at_ms:
            for statement in _sql.FORGET_SESSION:
                db.execute(statement, (tenant_id, session_id))
        else:
            first = int(next_seq)
    db.execute(_sql.PUT_SESSION, (tenant_id, session_id, first + count, stamp.expires_at_ms))
    return first
