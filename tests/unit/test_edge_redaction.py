"""Clients (the gateway, the CLI) redact a request before it reaches the ingest topic."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from shared.bus import BusMessage, MemoryBus, Topics
from shared.client import ConduitClient
from shared.contracts import StepEvent, Turn
from shared.pii.sealing import VaultKeys
from shared.pii.tokens import TOKEN_PATTERN, seal_context

EMAIL, CARD, PHONE = "ann@example.com", "4111 1111 1111 1111", "+44 20 7946 0958"


async def _published(
    text: str, history: Sequence[Turn] = (), vault_key: X25519PublicKey | None = None
) -> StepEvent:
    """The event `ConduitClient.ask` puts on the ingest topic (nothing answers it here)."""
    bus, topics = MemoryBus(), Topics("edge")
    published: list[StepEvent] = []

    async def keep(message: BusMessage) -> None:
        published.append(StepEvent.FromString(message.value))

    await bus.listen(topics.ingest, keep)
    client = ConduitClient(bus, topics, vault_key=vault_key)
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


async def test_with_the_vault_key_personal_data_becomes_tokens_only_the_vault_can_open() -> None:
    keys = VaultKeys.generate()
    event = await _published(
        f"I'm {EMAIL}, card {CARD}",
        [Turn(role="user", content=f"again: {EMAIL}, call {PHONE}")],
        vault_key=keys.public_key,
    )

    raw = event.SerializeToString()
    for value in (EMAIL, CARD, PHONE):
        assert value.encode() not in raw, f"{value} reached the ingest topic"
    tokens = TOKEN_PATTERN.findall(event.request.text + event.request.history[0].content)
    assert len(tokens) == 4, f"every finding should be a token: {event.request}"
    opened = {
        sealed.token: keys.open(
            sealed.sealed, context=seal_context(event.envelope.tenant_id, sealed.token)
        )
        for sealed in event.request.sealed_values
    }
    assert sorted(opened.values()) == sorted([EMAIL, CARD, PHONE]), (
        f"one seal per distinct value, opening to it: {opened}"
    )
    email_token = next(token for token, value in opened.items() if value == EMAIL)
    assert event.request.text.startswith(f"I'm {email_token},"), event.request.text
    assert email_token in event.request.history[0].content, "the same value, the same token"
    assert {r.kind: r.count for r in event.request.redacted_at_edge} == {
        "card_number": 1,
        "email": 2,
        "phone": 1,
    }, "tokenised values are counted as redactions"
