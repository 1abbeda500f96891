"""Dead-letter records: the original bytes plus why, where from and by whom, in headers."""

from __future__ import annotations

from shared.bus import Bus, BusMessage, Topics
from shared.runtime.retry import origin_of

REASON = "conduit-dlq-reason"
SERVICE = "conduit-dlq-service"
ATTEMPTS = "conduit-dlq-attempts"
ORIGIN = "conduit-dlq-origin"
# Set by `conduit dlq republish`: the replay is a new attempt, not a duplicate delivery.
REPLAYED_FROM = "conduit-replayed-from"


async def dead_letter(
    bus: Bus, topics: Topics, message: BusMessage, *, service: str, reason: str, attempts: int
) -> None:
    headers = dict(message.headers)
    headers.update(
        {
            REASON: reason[:1000],
            SERVICE: service,
            ATTEMPTS: str(attempts),
            ORIGIN: origin_of(message),
        }
    )
    key = message.key.decode("utf-8", "replace") if message.key else service
    await bus.publish(topics.deadletter, message.value, key=key, headers=headers)
