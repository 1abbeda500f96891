"""Memory in PostgreSQL (psycopg 3, async, through a small connection pool).

The schema is created on first use under an advisory lock, so that replicas starting
together do not race on `CREATE TABLE`. Turn numbers are reserved under the session row's
lock; task versions are checked in the statement that writes them.
"""

from __future__ import annotations

import asyncio
import math

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from shared.memory import _sql
from shared.memory.base import DEFAULT_TIMEOUT_S, MemoryStoreBase, WriteStamp
from shared.memory.errors import TaskStateConflict
from shared.memory.records import Fact, SessionSummary, StoredTurn, TaskState, decode_document
from shared.memory.retention import MemoryRetention

# Any constant: replicas agree on it, and it keeps schema creation to one at a time.
_SCHEMA_LOCK_ID = 0x636F6E64756974


def _pg(statement: str) -> str:
    return statement.replace("?", "%s")


_ENSURE_SESSION = _pg(
    "INSERT INTO memory_sessions VALUES (?, ?, 0, ?) ON CONFLICT (tenant_id, session_id) DO NOTHING"
)
_LOCK_SESSION = _pg(_sql.SESSION + " FOR UPDATE")


class PostgresMemory(MemoryStoreBase):
    """Example: `PostgresMemory("postgresql://conduit@127.0.0.1:5432/conduit", retention)`."""

    kind = "postgres"
    _driver_errors = (psycopg.OperationalError, psycopg.InterfaceError)

    def __init__(
        self,
        conninfo: str,
        retention: MemoryRetention,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_connections: int = 8,
    ) -> None:
        super().__init__(retention, timeout_s=timeout_s)
        self._pool = AsyncConnectionPool(
            conninfo,
            min_size=1,
            max_size=max_connections,
            open=False,
            timeout=timeout_s,
            kwargs={
                "autocommit": True,
                "connect_timeout": max(1, math.ceil(timeout_s)),
                "options": f"-c statement_timeout={round(timeout_s * 1000)}",
            },
            name="conduit-memory",
        )
        self._ready = False
        self._opening = asyncio.Lock()

    async def _ensure_ready(self) -> None:
        if self._ready:
            return
        async with self._opening:
            if self._ready:
                return
            if self._pool.closed:
                await self._pool.open(wait=False)
            async with self._pool.connection() as db, db.transaction():
                await db.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_ID,))
                await db.execute(_sql.SCHEMA)
            self._ready = True

    async def _append_turns(
        self,
        tenant_id: str,
        session_id: str,
        request_id: str,
        turns: list[tuple[str, str]],
        stamp: WriteStamp,
    ) -> list[int]:
        await self._ensure_ready()
        async with self._pool.connection() as db, db.transaction():
            first = await _touch_session(db, tenant_id, session_id, len(turns), stamp)
            async with db.cursor() as cursor:
                await cursor.executemany(
                    _pg("INSERT INTO memory_turns VALUES (?, ?, ?, ?, ?, ?, ?)"),
                    [
                        (tenant_id, session_id, first + n, role, content, request_id, stamp.at_ms)
                        for n, (role, content) in enumerate(turns)
                    ],
                )
        return list(range(first, first + len(turns)))

    async def _turns(
        self, tenant_id: str, session_id: str, last: int | None, now: int
    ) -> list[StoredTurn]:
        await self._ensure_ready()
        async with self._pool.connection() as db:
            cursor = await db.execute(_pg(_sql.NEWEST_TURNS), (tenant_id, session_id, now, last))
            rows = await cursor.fetchall()
        return [StoredTurn(*row) for row in reversed(rows)]

    async def _summary(self, tenant_id: str, session_id: str, now: int) -> SessionSummary | None:
        await self._ensure_ready()
        async with self._pool.connection() as db:
            cursor = await db.execute(_pg(_sql.SUMMARY), (tenant_id, session_id, now))
            row = await cursor.fetchone()
        return None if row is None else SessionSummary(text=row[0], through_seq=row[1])

    async def _put_summary(
        self, tenant_id: str, session_id: str, summary: SessionSummary, stamp: WriteStamp
    ) -> None:
        await self._ensure_ready()
        async with self._pool.connection() as db, db.transaction():
            await _touch_session(db, tenant_id, session_id, 0, stamp)
            await db.execute(
                _pg(_sql.PUT_SUMMARY),
                (tenant_id, session_id, summary.text, summary.through_seq, stamp.at_ms),
            )

    async def _upsert_fact(self, tenant_id: str, user_id: str, fact: Fact, ttl_ms: int) -> None:
        await self._ensure_ready()
        at = fact.at_unix_ms
        row = (tenant_id, user_id, fact.key, fact.value, fact.request_id, at, at + ttl_ms)
        async with self._pool.connection() as db, db.transaction():
            await db.execute(_pg(_sql.DROP_EXPIRED_FACTS_OF_USER), (tenant_id, user_id, at))
            await db.execute(_pg(_sql.UPSERT_FACT), row)
            await db.execute(_pg(_sql.SLIDE_FACTS), (at + ttl_ms, tenant_id, user_id))

    async def _facts(self, tenant_id: str, user_id: str, now: int) -> list[Fact]:
        await self._ensure_ready()
        async with self._pool.connection() as db:
            cursor = await db.execute(_pg(_sql.FACTS), (tenant_id, user_id, now))
            rows = await cursor.fetchall()
        return [Fact(*row) for row in rows]

    async def _delete_fact(self, tenant_id: str, user_id: str, key: str, now: int) -> bool:
        await self._ensure_ready()
        async with self._pool.connection() as db:
            cursor = await db.execute(_pg(_sql.DELETE_FACT), (tenant_id, user_id, key, now))
            return cursor.rowcount > 0

    async def _task_state(self, tenant_id: str, key: str, now: int) -> TaskState | None:
        await self._ensure_ready()
        async with self._pool.connection() as db:
            cursor = await db.execute(_pg(_sql.TASK_STATE), (tenant_id, key, now))
            row = await cursor.fetchone()
        if row is None:
            return None
        return TaskState(document=decode_document(row[0]), version=row[1], at_unix_ms=row[2])

    async def _put_task_state(
        self,
        tenant_id: str,
        key: str,
        document_json: str,
        expected_version: int,
        stamp: WriteStamp,
    ) -> int:
        await self._ensure_ready()
        statement, parameters = _sql.task_state_write(
            tenant_id, key, document_json, expected_version, stamp
        )
        async with self._pool.connection() as db:
            written = await (await db.execute(_pg(statement), parameters)).fetchone()
            if written is not None:
                return int(written[0])
            current = await (
                await db.execute(_pg(_sql.TASK_VERSION), (tenant_id, key, stamp.at_ms))
            ).fetchone()
        actual = 0 if current is None else int(current[0])
        raise TaskStateConflict(tenant_id, key, expected=expected_version, actual=actual)

    async def _prune_expired(self, now: int) -> int:
        await self._ensure_ready()
        deleted = 0
        async with self._pool.connection() as db, db.transaction():
            for statement in _sql.PRUNE:
                deleted += (await db.execute(_pg(statement), (now,))).rowcount
        return deleted

    async def _close(self) -> None:
        await self._pool.close()


async def _touch_session(
    db: psycopg.AsyncConnection[TupleRow],
    tenant_id: str,
    session_id: str,
    count: int,
    stamp: WriteStamp,
) -> int:
    """As `sqlite_store._touch_session`; the row is created first so that it can be locked,
    which makes a second appender to a new session wait instead of reusing the numbers."""
    await db.execute(_ENSURE_SESSION, (tenant_id, session_id, stamp.expires_at_ms))
    row = await (await db.execute(_LOCK_SESSION, (tenant_id, session_id))).fetchone()
    if row is None:
        raise RuntimeError(f"session row of {session_id!r} vanished inside its transaction")
    first, expires_at_ms = int(row[0]), int(row[1])
    if expires_at_ms <= stamp.at_ms:
        for statement in _sql.FORGET_SESSION:
            await db.execute(_pg(statement), (tenant_id, session_id))
        first = 0
    await db.execute(
        _pg(_sql.PUT_SESSION), (tenant_id, session_id, first + count, stamp.expires_at_ms)
    )
    return first
