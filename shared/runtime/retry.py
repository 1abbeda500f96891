"""Retries through retry topics, so a slow retry never blocks its partition.

A step that fails with an unexpected (presumed transient) error is re-published to the
service's retry topic for that attempt, `<prefix>.retry.<service>.<attempt>`, stamped with
when it is due (exponential backoff with jitter). Each tier holds messages of one delay,
so due times arrive in order and waiting for the head of a partition delays nothing that
is due sooner. After the last attempt the runtime dead-letters the event instead.
"""

from __future__ import annotations

import asyncio
import random

from shared.bus import Bus, BusMessage, Handler, Topics
from shared.contracts import now_ms

ATTEMPT = "conduit-attempt"
DUE_AT_MS = "conduit-retry-due-ms"
REASON = "conduit-retry-reason"
ORIGIN = "conduit-retry-origin"


def attempt_of(message: BusMessage) -> int:
    try:
        return max(1, int(message.headers.get(ATTEMPT, "1")))
    except ValueError:
        return 1


def origin_of(message: BusMessage) -> str:
    """Where the event was first consumed, before any retry hop."""
    return message.headers.get(ORIGIN) or f"{message.topic}/{message.partition}@{message.offset}"


def backoff_s(attempt: int, *, base_s: float, jitter: float, rng: random.Random) -> float:
    """Delay before attempt `attempt + 1`: base·2^(attempt-1), spread by ±jitter."""
    return base_s * 2.0 ** (attempt - 1) * (1 + rng.uniform(-jitter, jitter))


async def schedule_retry(
    bus: Bus, topics: Topics, message: BusMessage, *, service: str, delay_s: float, reason: str
) -> None:
    attempt = attempt_of(message)
    headers = dict(message.headers)
    headers.update(
        {
            ATTEMPT: str(attempt + 1),
            DUE_AT_MS: str(now_ms() + int(delay_s * 1000)),
            REASON: reason[:500],
            ORIGIN: origin_of(message),
        }
    )
    key = message.key.decode("utf-8", "replace") if message.key else service
    await bus.publish(topics.retry(service, attempt), message.value, key=key, headers=headers)


class RetryRunner:
    """Consumes a retry topic: waits until each message is due, then runs the step again."""

    def __init__(self, runner: Handler, *, max_wait_s: float) -> None:
        self._runner = runner
        self._max_wait_s = max_wait_s

    async def __call__(self, message: BusMessage) -> None:
        try:
            due_ms = int(message.headers.get(DUE_AT_MS, "0"))
        except ValueError:
            due_ms = 0
        wait_s = min((due_ms - now_ms()) / 1000, self._max_wait_s)
        if wait_s > 0:
            await asyncio.sleep(wait_s)
        await self._runner(message)
