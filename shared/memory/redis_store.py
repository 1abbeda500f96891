"""Memory in Redis, expired by native TTLs (PEXPIRE on every write).

A session's turns are one list (a turn's number is its index: the list only grows, and
RPUSH reports the new length atomically), its summary one string; a user's facts one
hash; a task's state one hash whose version a script checks and bumps. Keys carry the
tenant as a hash tag, so one tenant's keys share a cluster slot.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from shared.memory.base import DEFAULT_TIMEOUT_S, MemoryStoreBase, WriteStamp
from shared.memory.errors import TaskStateConflict
from shared.memory.records import Fact, SessionSummary, StoredTurn, TaskState, decode_document
from shared.memory.retention import MemoryRetention

# KEYS[1] the task hash; ARGV: expected version, document, at (ms), ttl (ms).
# Returns {1, new version} when written, {0, current version} when not.
_PUT_TASK_STATE = """
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if current ~= tonumber(ARGV[1]) then
  return {0, current}
end
redis.call('HSET', KEYS[1], 'version', current + 1, 'document', ARGV[2], 'at', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {1, current + 1}
"""


class RedisMemory(MemoryStoreBase):
    """Example: `RedisMemory("redis://127.0.0.1:6379/0", retention)`."""

    kind = "redis"
    _driver_errors = (RedisConnectionError, RedisTimeoutError)

    def __init__(
        self,
        url: str,
        retention: MemoryRetention,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        key_prefix: str = "conduit:memory",
    ) -> None:
        super().__init__(retention, timeout_s=timeout_s)
        self._redis: Redis = Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=timeout_s,
            socket_timeout=timeout_s,
            # One immediate retry survives a pooled connection the server has dropped;
            # more would only delay the `MemoryUnavailable` of a server that is down.
            retry=Retry(NoBackoff(), 1),
        )
        self._prefix = key_prefix
        self._put_task_script = self._redis.register_script(_PUT_TASK_STATE)

    def key(self, tenant_id: str, area: str, name: str) -> str:
        """The key of one session's turns (`area="turns"`), summary, user's facts or task."""
        return f"{self._prefix}:{{{quote(tenant_id, safe='')}}}:{area}:{quote(name, safe='')}"

    async def _append_turns(
        self,
        tenant_id: str,
        session_id: str,
        request_id: str,
        turns: list[tuple[str, str]],
        stamp: WriteStamp,
    ) -> list[int]:
        entries = [
            json.dumps(
                {"role": role, "content": content, "request_id": request_id, "at": stamp.at_ms}
            )
            for role, content in turns
        ]
        turns_key = self.key(tenant_id, "turns", session_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(turns_key, *entries)
            pipe.pexpire(turns_key, stamp.ttl_ms)
            pipe.pexpire(self.key(tenant_id, "summary", session_id), stamp.ttl_ms)
            length = int((await pipe.execute())[0])
        return list(range(length - len(turns), length))

    async def _turns(
        self, tenant_id: str, session_id: str, last: int | None, now: int
    ) -> list[StoredTurn]:
        turns_key = self.key(tenant_id, "turns", session_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.llen(turns_key)
            pipe.lrange(turns_key, 0 if last is None else -last, -1)
            length, entries = await pipe.execute()
        first = int(length) - len(entries)
        return [_turn(first + n, json.loads(entry)) for n, entry in enumerate(entries)]

    async def _summary(self, tenant_id: str, session_id: str, now: int) -> SessionSummary | None:
        stored = await self._redis.get(self.key(tenant_id, "summary", session_id))
        if stored is None:
            return None
        fields = json.loads(stored)
        return SessionSummary(text=fields["text"], through_seq=int(fields["through_seq"]))

    async def _put_summary(
        self, tenant_id: str, session_id: str, summary: SessionSummary, stamp: WriteStamp
    ) -> None:
        stored = json.dumps({"text": summary.text, "through_seq": summary.through_seq})
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self.key(tenant_id, "summary", session_id), stored, px=stamp.ttl_ms)
            pipe.pexpire(self.key(tenant_id, "turns", session_id), stamp.ttl_ms)
            await pipe.execute()

    async def _upsert_fact(self, tenant_id: str, user_id: str, fact: Fact, ttl_ms: int) -> None:
        stored = json.dumps(
            {"value": fact.value, "request_id": fact.request_id, "at": fact.at_unix_ms}
        )
        facts_key = self.key(tenant_id, "facts", user_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(facts_key, fact.key, stored)
            pipe.pexpire(facts_key, ttl_ms)
            await pipe.execute()

    async def _facts(self, tenant_id: str, user_id: str, now: int) -> list[Fact]:
        stored = _text_mapping(await self._redis.hgetall(self.key(tenant_id, "facts", user_id)))
        return [_fact(key, json.loads(stored[key])) for key in sorted(stored)]

    async def _delete_fact(self, tenant_id: str, user_id: str, key: str, now: int) -> bool:
        return int(await self._redis.hdel(self.key(tenant_id, "facts", user_id), key)) > 0

    async def _task_state(self, tenant_id: str, key: str, now: int) -> TaskState | None:
        stored = _text_mapping(await self._redis.hgetall(self.key(tenant_id, "task", key)))
        if not stored:
            return None
        return TaskState(
            document=decode_document(stored["document"]),
            version=int(stored["version"]),
            at_unix_ms=int(stored["at"]),
        )

    async def _put_task_state(
        self,
        tenant_id: str,
        key: str,
        document_json: str,
        expected_version: int,
        stamp: WriteStamp,
    ) -> int:
        written, version = await self._put_task_script(
            keys=[self.key(tenant_id, "task", key)],
            args=[expected_version, document_json, stamp.at_ms, stamp.ttl_ms],
        )
        if not written:
            raise TaskStateConflict(tenant_id, key, expected=expected_version, actual=version)
        return int(version)

    async def _prune_expired(self, now: int) -> int:
        return 0  # Redis expires keys itself

    async def _close(self) -> None:
        await self._redis.aclose()


def _turn(seq: int, fields: dict[str, Any]) -> StoredTurn:
    return StoredTurn(
        seq=seq,
        role=fields["role"],
        content=fields["content"],
        request_id=fields["request_id"],
        at_unix_ms=int(fields["at"]),
    )


def _fact(key: str, fields: dict[str, Any]) -> Fact:
    return Fact(
        key=key, value=fields["value"], request_id=fields["request_id"], at_unix_ms=fields["at"]
    )


def _text_mapping(mapping: dict[bytes | str, bytes | str]) -> dict[str, str]:
    """A hash as read (the client decodes responses: its values are already `str`)."""
    return {_text(key): _text(value) for key, value in mapping.items()}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
