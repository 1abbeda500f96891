"""The one interface every memory store implements; every area is keyed by tenant.

Everything goes in redacted (stores are PII sinks), numbered and versioned by the store
itself so that several writers never collide, and out only while it has not expired.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from shared.contracts import Turn
from shared.memory.records import Fact, JsonDocument, SessionSummary, StoredTurn, TaskState


class MemoryStore(Protocol):
    """Example:

    >>> memory = open_memory(ConduitSettings())
    >>> hello = [Turn(role="user", content="Hi")]
    >>> await memory.append_turns("acme", "s1", "r1", hello)  # doctest: +SKIP
    [0]
    >>> [t.content for t in await memory.turns("acme", "s1", last=20)]  # doctest: +SKIP
    ['Hi']

    Every method raises `MemoryUnavailable` when the store is down or too slow.
    """

    kind: str
    """`"sqlite"`, `"postgres"` or `"redis"`."""

    async def append_turns(
        self, tenant_id: str, session_id: str, request_id: str, turns: Sequence[Turn]
    ) -> list[int]:
        """Append (redacted) turns in order; returns the numbers they were given."""
        ...

    async def turns(
        self, tenant_id: str, session_id: str, *, last: int | None = None
    ) -> list[StoredTurn]:
        """The session's turns oldest first; with `last`, only the newest `last` of them."""
        ...

    async def summary(self, tenant_id: str, session_id: str) -> SessionSummary | None: ...

    async def put_summary(
        self, tenant_id: str, session_id: str, summary: SessionSummary
    ) -> None: ...

    async def upsert_fact(
        self, tenant_id: str, user_id: str, key: str, value: str, *, request_id: str
    ) -> Fact:
        """Insert or replace the user's fact `key`; returns it as stored (redacted)."""
        ...

    async def facts(self, tenant_id: str, user_id: str) -> list[Fact]:
        """The user's facts, ordered by key."""
        ...

    async def delete_fact(self, tenant_id: str, user_id: str, key: str) -> bool:
        """Whether there was such a fact."""
        ...

    async def task_state(self, tenant_id: str, key: str) -> TaskState | None: ...

    async def put_task_state(
        self, tenant_id: str, key: str, document: JsonDocument, *, expected_version: int
    ) -> TaskState:
        """Write if the stored version is `expected_version` (0: none yet), else raise
        `TaskStateConflict`; returns the state with its new version."""
        ...

    async def prune_expired(self) -> int:
        """Delete what has expired; returns how many records went (0 where TTLs do it)."""
        ...

    async def close(self) -> None: ...
