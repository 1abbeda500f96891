"""The conversation history the gateway keeps per tenant and session, in SQLite.

Turns are stored redacted (`shared.pii`): the store is a sink like any other. Several
gateway processes may share the file; each append numbers its turns in one transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shared.contracts import Turn, now_ms
from shared.pii import redact
from shared.storage import SqliteWorker

_SCHEMA = """
CREATE TABLE IF NOT EXISTS turns (
  tenant_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  role TEXT NOT NULL,
  content TEXT NOT NULL,
  request_id TEXT NOT NULL,
  at_unix_ms INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, session_id, seq)
);
"""


@dataclass(frozen=True)
class StoredTurn:
    role: str
    content: str
    request_id: str
    at_unix_ms: int


class ConversationStore:
    """Example:

    >>> store = ConversationStore(Path("var/gateway/history.sqlite3"))
    >>> await store.append("acme", "s1", "r1", [Turn(role="user", content="Hi")])  # doctest: +SKIP
    >>> [t.content for t in await store.turns("acme", "s1")]  # doctest: +SKIP
    ['Hi']
    """

    def __init__(self, path: Path) -> None:
        self._db = SqliteWorker(path, schema=_SCHEMA, name="gateway-history")

    async def turns(
        self, tenant_id: str, session_id: str, last: int | None = None
    ) -> list[StoredTurn]:
        """The session's turns in order; with `last`, only the newest `last` of them."""

        def read(db: sqlite3.Connection) -> list[StoredTurn]:
            rows = db.execute(
                "SELECT role, content, request_id, at_unix_ms FROM turns"
                " WHERE tenant_id = ? AND session_id = ? ORDER BY seq DESC LIMIT ?",
                (tenant_id, session_id, -1 if last is None else last),
            ).fetchall()
            return [StoredTurn(*row) for row in reversed(rows)]

        return await self._db.run(read)

    async def append(
        self, tenant_id: str, session_id: str, request_id: str, turns: Sequence[Turn]
    ) -> None:
        at = now_ms()
        redacted = [(turn.role, redact(turn.content).text) for turn in turns]

        def write(db: sqlite3.Connection) -> None:
            db.execute("BEGIN IMMEDIATE")
            try:
                (next_seq,) = db.execute(
                    "SELECT COALESCE(MAX(seq), -1) + 1 FROM turns"
                    " WHERE tenant_id = ? AND session_id = ?",
                    (tenant_id, session_id),
                ).fetchone()
                db.executemany(
                    "INSERT INTO turns VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (tenant_id, session_id, next_seq + n, role, content, request_id, at)
                        for n, (role, content) in enumerate(redacted)
                    ],
                )
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

        await self._db.run(write)

    async def close(self) -> None:
        await self._db.close()
