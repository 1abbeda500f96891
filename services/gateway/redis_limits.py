"""Per-tenant admission shared by every gateway replica, counted in Redis.

One Lua script decides atomically on the server, on the server's clock: it drops expired
leases, refuses when the scope has `max_in_flight` unexpired leases, refills and takes from
the token bucket, and adds a lease for the admitted ask. A lease expires on its own after
`lease_s` (the request deadline and a margin), so a replica that dies mid-ask frees its
slots; a finished ask removes its lease at once. Both keys of a scope share a hash tag, so
the script also runs on Redis Cluster.

If Redis cannot be reached, `fail_open` decides: admit (and log) or refuse with 503.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.gateway.errors import NotReady
from services.gateway.limits import Limits, over_concurrency, over_rate

log = logging.getLogger(__name__)

# KEYS: bucket hash, in-flight sorted set. ARGV: rate/s, burst, max in flight, lease id,
# lease ms. Returns {admitted (1/0), asks in flight, seconds until a token (as text)}.
_ADMIT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local lease_ms = tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local in_flight = redis.call('ZCARD', KEYS[2])
if in_flight >= tonumber(ARGV[3]) then
  return {0, in_flight, '0'}
end
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(bucket[1]) or burst
local updated = tonumber(bucket[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - updated) / 1000 * rate)
local idle_ms = math.ceil(burst / rate * 1000) + 1000
if tokens < 1 then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', now)
  redis.call('PEXPIRE', KEYS[1], idle_ms)
  return {0, in_flight, tostring((1 - tokens) / rate)}
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - 1), 'updated', now)
redis.call('PEXPIRE', KEYS[1], idle_ms)
redis.call('ZADD', KEYS[2], now + lease_ms, ARGV[4])
redis.call('PEXPIRE', KEYS[2], lease_ms + 1000)
return {1, in_flight + 1, '0'}
"""


class RedisAdmission:
    """Example: `RedisAdmission(Redis.from_url("redis://limits:6379/0"), lease_s=65)`."""

    def __init__(
        self,
        redis: Redis,
        *,
        lease_s: float,
        key_prefix: str = "conduit:limits",
        fail_open: bool = True,
    ) -> None:
        self._redis = redis
        self._lease_ms = int(lease_s * 1000)
        self._prefix = key_prefix
        self._fail_open = fail_open
        self._admit_script = redis.register_script(_ADMIT)

    @asynccontextmanager
    async def admit(self, scope: str, limits: Limits) -> AsyncIterator[None]:
        lease = uuid.uuid4().hex
        bucket, in_flight = self._keys(scope)
        try:
            admitted, count, wait = await self._admit_script(
                keys=[bucket, in_flight],
                args=[limits.rate_per_s, limits.burst, limits.max_in_flight, lease, self._lease_ms],
            )
        except RedisError as exc:
            if not self._fail_open:
                raise NotReady(f"the shared limits store is unreachable: {exc}") from exc
            log.warning("shared limits unreachable, admitting %s: %s", scope, exc)
            yield
            return
        if not admitted:
            wait_s = float(wait)
            if wait_s > 0:
                raise over_rate(scope, limits, wait_s)
            raise over_concurrency(scope, int(count), limits)
        try:
            yield
        finally:
            await self._release(in_flight, lease)

    async def in_flight(self, scope: str) -> int:
        """Unexpired asks of `scope` across every replica."""
        count: Any = await self._redis.zcard(self._keys(scope)[1])
        return int(count)

    async def close(self) -> None:
        await self._redis.aclose()

    async def _release(self, in_flight: str, lease: str) -> None:
        try:
            await self._redis.zrem(in_flight, lease)
        except RedisError as exc:  # the lease expires on its own
            log.warning("could not release an admission lease: %s", exc)

    def _keys(self, scope: str) -> tuple[str, str]:
        tagged = f"{self._prefix}:{{{scope}}}"
        return f"{tagged}:bucket", f"{tagged}:in_flight"
