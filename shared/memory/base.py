"""What the three stores share: redaction, retention, bounded waits and typed failures.

Each store implements the underscored storage hooks; the public methods (the
`MemoryStore` interface) redact before anything is written, turn the tenant's retention
into a TTL, and turn a dead or silent store into `MemoryUnavailable` within `timeout_s`.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from shared.contracts import Turn, now_ms
from shared.memory._redaction import redacted_free_text, redacted_values
from shared.memory.errors import MemoryUnavailable
from shared.memory.records import (
    Fact,
    JsonDocument,
    SessionSummary,
    StoredTurn,
    TaskState,
    encode_document,
)
from shared.memory.retention import Area, MemoryRetention

DEFAULT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class WriteStamp:
    """When a write happens and how long what it writes is kept."""

    at_ms: int
    ttl_ms: int

    @property
    def expires_at_ms(self) -> int:
        return self.at_ms + self.ttl_ms


class MemoryStoreBase(ABC):
    kind: str
    _driver_errors: tuple[type[BaseException], ...]
    """The driver's exceptions that mean the store is down or unreachable."""

    def __init__(self, retention: MemoryRetention, *, timeout_s: float) -> None:
        self._retention = retention
        self._timeout_s = timeout_s

    async def append_turns(
        self, tenant_id: str, session_id: str, request_id: str, turns: Sequence[Turn]
    ) -> list[int]:
        if not turns:
            return []
        contents = await redacted_free_text([turn.content for turn in turns])
        rows = [(turn.role, content) for turn, content in zip(turns, contents, strict=True)]
        async with self._guard():
            return await self._append_turns(
                tenant_id, session_id, request_id, rows, self._stamp(tenant_id, "history")
            )

    async def turns(
        self, tenant_id: str, session_id: str, *, last: int | None = None
    ) -> list[StoredTurn]:
        if last is not None and last < 0:
            raise ValueError(f"last must be 0 or more, not {last}")
        if last == 0:
            return []
        async with self._guard():
            return await self._turns(tenant_id, session_id, last, now_ms())

    async def summary(self, tenant_id: str, session_id: str) -> SessionSummary | None:
        async with self._guard():
            return await self._summary(tenant_id, session_id, now_ms())

    async def put_summary(self, tenant_id: str, session_id: str, summary: SessionSummary) -> None:
        (text,) = await redacted_free_text([summary.text])
        stored = SessionSummary(text=text, through_seq=summary.through_seq)
        async with self._guard():
            await self._put_summary(
                tenant_id, session_id, stored, self._stamp(tenant_id, "history")
            )

    async def upsert_fact(
        self, tenant_id: str, user_id: str, key: str, value: str, *, request_id: str
    ) -> Fact:
        (redacted,) = await redacted_free_text([value])
        fact = Fact(key=key, value=redacted, request_id=request_id, at_unix_ms=now_ms())
        async with self._guard():
            await self._upsert_fact(tenant_id, user_id, fact, self._ttl(tenant_id, "facts"))
        return fact

    async def facts(self, tenant_id: str, user_id: str) -> list[Fact]:
        async with self._guard():
            return await self._facts(tenant_id, user_id, now_ms())

    async def delete_fact(self, tenant_id: str, user_id: str, key: str) -> bool:
        async with self._guard():
            return await self._delete_fact(tenant_id, user_id, key, now_ms())

    async def task_state(self, tenant_id: str, key: str) -> TaskState | None:
        async with self._guard():
            return await self._task_state(tenant_id, key, now_ms())

    async def put_task_state(
        self, tenant_id: str, key: str, document: JsonDocument, *, expected_version: int
    ) -> TaskState:
        if expected_version < 0:
            raise ValueError(f"expected_version must be 0 or more, not {expected_version}")
        redacted: JsonDocument = redacted_values(document)
        stamp = self._stamp(tenant_id, "task_state")
        async with self._guard():
            version = await self._put_task_state(
                tenant_id, key, encode_document(redacted), expected_version, stamp
            )
        return TaskState(document=redacted, version=version, at_unix_ms=stamp.at_ms)

    async def prune_expired(self) -> int:
        async with self._guard():
            return await self._prune_expired(now_ms())

    async def close(self) -> None:
        await self._close()

    def _ttl(self, tenant_id: str, area: Area) -> int:
        return self._retention.for_tenant(tenant_id).ttl_ms(area)

    def _stamp(self, tenant_id: str, area: Area) -> WriteStamp:
        return WriteStamp(at_ms=now_ms(), ttl_ms=self._ttl(tenant_id, area))

    @asynccontextmanager
    async def _guard(self) -> AsyncIterator[None]:
        try:
            async with asyncio.timeout(self._timeout_s):
                yield
        except TimeoutError as exc:
            raise MemoryUnavailable(self.kind, f"no answer within {self._timeout_s}s") from exc
        except self._driver_errors as exc:
            raise MemoryUnavailable(self.kind, f"{type(exc).__name__}: {exc}") from exc

    @abstractmethod
    async def _append_turns(
        self,
        tenant_id: str,
        session_id: str,
        request_id: str,
        turns: list[tuple[str, str]],
        stamp: WriteStamp,
    ) -> list[int]:
        """Store `(role, content)` pairs numbered after the session's last turn, atomically."""

    @abstractmethod
    async def _turns(
        self, tenant_id: str, session_id: str, last: int | None, now: int
    ) -> list[StoredTurn]: ...

    @abstractmethod
    async def _summary(
        self, tenant_id: str, session_id: str, now: int
    ) -> SessionSummary | None: ...

    @abstractmethod
    async def _put_summary(
        self, tenant_id: str, session_id: str, summary: SessionSummary, stamp: WriteStamp
    ) -> None: ...

    @abstractmethod
    async def _upsert_fact(self, tenant_id: str, user_id: str, fact: Fact, ttl_ms: int) -> None: ...

    @abstractmethod
    async def _facts(self, tenant_id: str, user_id: str, now: int) -> list[Fact]: ...

    @abstractmethod
    async def _delete_fact(self, tenant_id: str, user_id: str, key: str, now: int) -> bool: ...

    @abstractmethod
    async def _task_state(self, tenant_id: str, key: str, now: int) -> TaskState | None: ...

    @abstractmethod
    async def _put_task_state(
        self,
        tenant_id: str,
        key: str,
        document_json: str,
        expected_version: int,
        stamp: WriteStamp,
    ) -> int:
        """The new version; `TaskStateConflict` when the stored one is not `expected_version`."""

    @abstractmethod
    async def _prune_expired(self, now: int) -> int: ...

    @abstractmethod
    async def _close(self) -> None: ...
