"""Clients (the gateway, the CLI) redact a request before it reaches the ingest topic."""

from __future__ import annotations

from collections.abc import Sequence

from shared.bus import BusMessage, MemoryBus, Topics
from shared.client import ConduitClient
from shared.contracts import StepEvent, Turn

EMAIL, CARD, PHONE = "ann@example.com", "4111 1111 1111 1111", "+44 20 7946 0958"


async def _published(text: str, history: Sequence[Turn] = ()) -> StepEvent:
    """The event `ConduitClient.ask` puts on the ingest topic (nothing answers it here)."""
    bus, topics = MemoryBus(), Topics("edge")
    published: list[StepEvent] = []

    async def keep(message: BusMessage) -> None:
        published.append(StepEvent.FromString(message.value))

    await bus.listen(topics.ingest, keep)
    client = ConduitClient(bus, topics)
    await client.start()
    try:
        await client.ask(text, session_id="s-1", history=history, timeout_s=0.01)
    except TimeoutError:
        pass
    finally:
        await client.close()
        await bus.stop()
    [event] = published
    return event


async def test_the_ingest_topic_never_holds_the_callers_personal_data() -> None:
    event = await _published(
        f"I'm {EMAIL}, card {CARD}", [Turn(role="user", content=f"call me on {PHONE}")]
    )

    raw = event.SerializeToString()
    for value in (EMAIL, CARD, PHONE):
        assert value.encode() not in raw, f"{value} reached the ingest topic"
    assert event.request.text == "I'm [EMAIL], card [CARD]"
    assert event.request.history[0].content == "call me on [PHONE]"
    assert {r.kind: r.count for r in event.request.redacted_at_edge} == {
        "card_number": 1,
        "email": 1,
        "phone": 1,
    }, "what the client redacted must travel with the request"


async def test_a_request_without_personal_data_is_published_as_asked() -> None:
    event = await _published("Where is ORD-5001?")

    assert event.request.text == "Where is ORD-5001?"
    assert not event.request.redacted_at_edge
