"""Per-tenant admission: a token bucket for the request rate, a cap on asks in flight.

`LocalAdmission` counts in this process; `services.gateway.redis_limits.RedisAdmission`
counts in Redis, so that N gateway replicas admit a tenant's rate once, not N times.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from services.gateway.errors import RateLimited

Clock = Callable[[], float]

# How long a caller turned away for concurrency should wait: an answer takes about this long.
CONCURRENCY_RETRY_AFTER_S = 1.0


class Limits(BaseModel):
    """Example: `Limits(rate_per_s=5, burst=10, max_in_flight=4)`: 5 asks a second on
    average, 10 at once after a quiet spell, never more than 4 unanswered."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rate_per_s: float = Field(gt=0)
    burst: int = Field(ge=1)
    max_in_flight: int = Field(ge=1)


def over_concurrency(scope: str, in_flight: int, limits: Limits) -> RateLimited:
    return RateLimited(
        f"{in_flight} asks of {scope} are unanswered; at most {limits.max_in_flight}",
        retry_after_s=CONCURRENCY_RETRY_AFTER_S,
    )


def over_rate(scope: str, limits: Limits, wait_s: float) -> RateLimited:
    return RateLimited(
        f"over the rate of {limits.rate_per_s:g} asks/s (burst {limits.burst}) of {scope}",
        retry_after_s=wait_s,
    )


class Admission(Protocol):
    """Admits requests per scope (a tenant, or a key with limits of its own)."""

    def admit(self, scope: str, limits: Limits) -> AbstractAsyncContextManager[None]:
        """Held while the ask runs; raises `RateLimited` when over a limit."""

    async def in_flight(self, scope: str) -> int:
        """Asks of `scope` admitted and not finished."""

    async def close(self) -> None: ...


class TokenBucket:
    """Holds up to `burst` tokens, refilled at `rate_per_s`; each request takes one.

    >>> now = [0.0]
    >>> bucket = TokenBucket(rate_per_s=2, burst=1, clock=lambda: now[0])
    >>> bucket.take(), bucket.take()
    (0.0, 0.5)
    """

    def __init__(self, *, rate_per_s: float, burst: int, clock: Clock = time.monotonic) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()

    def take(self) -> float:
        """0.0 when a token was taken; otherwise the seconds until one will be there."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate_per_s)
        self._updated = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate_per_s


class LocalAdmission:
    """Admission counted in this process. Example:

    >>> admission = LocalAdmission()
    >>> async with admission.admit("acme", Limits(rate_per_s=5, burst=10, max_in_flight=4)):
    ...     pass  # doctest: +SKIP  (the ask; `RateLimited` was raised if over a limit)
    """

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._in_flight: dict[str, int] = {}

    @asynccontextmanager
    async def admit(self, scope: str, limits: Limits) -> AsyncIterator[None]:
        in_flight = self._in_flight.get(scope, 0)
        if in_flight >= limits.max_in_flight:
            raise over_concurrency(scope, in_flight, limits)
        wait_s = self._bucket(scope, limits).take()
        if wait_s > 0:
            raise over_rate(scope, limits, wait_s)
        self._in_flight[scope] = in_flight + 1
        try:
            yield
        finally:
            self._in_flight[scope] -= 1

    async def close(self) -> None:
        """Nothing to release: the counts live and die with the process."""

    async def in_flight(self, scope: str) -> int:
        return self._in_flight.get(scope, 0)

    def _bucket(self, scope: str, limits: Limits) -> TokenBucket:
        # A scope's limits are fixed (the defaults, or its key's): the first ask sets them.
        bucket = self._buckets.get(scope)
        if bucket is None:
            bucket = TokenBucket(
                rate_per_s=limits.rate_per_s, burst=limits.burst, clock=self._clock
            )
            self._buckets[scope] = bucket
        return bucket
