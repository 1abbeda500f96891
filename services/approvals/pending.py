"""The approvals desk's durable state: parked requests and their fate, in SQLite.

A parked request is decided once: the first of a person's decision and its expiry wins,
in one conditional update, so a request is never resumed twice. A decision that arrives
before its parked request (the topics are read independently) is kept until it comes.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from shared.contracts import ApprovalDecision, ApprovalOutcome, ParkedRequest
from shared.storage import SqliteWorker

_SCHEMA = """
CREATE TABLE IF NOT EXISTS parked (
  approval_id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  tool TEXT NOT NULL,
  expires_at_ms INTEGER NOT NULL,
  approver_roles TEXT NOT NULL,
  request BLOB NOT NULL,
  outcome INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS parked_waiting ON parked (outcome, expires_at_ms);
CREATE TABLE IF NOT EXISTS early_decisions (
  approval_id TEXT PRIMARY KEY,
  decision BLOB NOT NULL
);
"""
_WAITING = ApprovalOutcome.APPROVAL_OUTCOME_UNSPECIFIED


class PendingApprovals:
    """Example: `await pending.park(parked)`, later `await pending.settle(id, outcome)`."""

    def __init__(self, path: Path) -> None:
        self._db = SqliteWorker(path, schema=_SCHEMA, name="approvals")

    async def park(self, parked: ParkedRequest) -> ApprovalDecision | None:
        """Keep `parked` (once per approval id); a decision that came first, if any."""
        approval = parked.approval

        def write(db: sqlite3.Connection) -> bytes | None:
            db.execute(
                "INSERT OR IGNORE INTO parked VALUES (?, ?, ?, ?, ?, ?, 0)",
                (
                    approval.approval_id,
                    approval.tenant_id,
                    approval.tool,
                    approval.expires_at_unix_ms,
                    json.dumps(list(approval.approver_roles)),
                    parked.SerializeToString(),
                ),
            )
            row = db.execute(
                "SELECT decision FROM early_decisions WHERE approval_id = ?",
                (approval.approval_id,),
            ).fetchone()
            return None if row is None else bytes(row[0])

        early = await self._db.run(write)
        return None if early is None else ApprovalDecision.FromString(early)

    async def keep_early(self, decision: ApprovalDecision) -> None:
        await self._db.run(
            lambda db: db.execute(
                "INSERT OR IGNORE INTO early_decisions VALUES (?, ?)",
                (decision.approval_id, decision.SerializeToString()),
            )
        )

    async def get(self, approval_id: str) -> tuple[ParkedRequest, int] | None:
        """The parked request and its outcome so far (unspecified while it waits)."""
        row = await self._db.run(
            lambda db: db.execute(
                "SELECT request, outcome FROM parked WHERE approval_id = ?", (approval_id,)
            ).fetchone()
        )
        return None if row is None else (ParkedRequest.FromString(row[0]), int(row[1]))

    async def settle(self, approval_id: str, outcome: int) -> ParkedRequest | None:
        """Record `outcome` if the request still waits; the request, or None if it did not."""

        def update(db: sqlite3.Connection) -> bytes | None:
            # fetchall: the statement (and so its autocommit) completes before returning.
            rows = db.execute(
                "UPDATE parked SET outcome = ? WHERE approval_id = ? AND outcome = ?"
                " RETURNING request",
                (outcome, approval_id, _WAITING),
            ).fetchall()
            return bytes(rows[0][0]) if rows else None

        settled = await self._db.run(update)
        return None if settled is None else ParkedRequest.FromString(settled)

    async def expired(self, now_ms: int) -> list[str]:
        """Approval ids still waiting whose time ran out."""
        rows = await self._db.run(
            lambda db: db.execute(
                "SELECT approval_id FROM parked WHERE outcome = ? AND expires_at_ms <= ?",
                (_WAITING, now_ms),
            ).fetchall()
        )
        return [row[0] for row in rows]

    async def close(self) -> None:
        await self._db.close()
