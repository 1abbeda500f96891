"""Malformed, mutated and oversize events fed to every service's consumer, all six services
running embedded: each record ends in a dead letter or a response, none crashes a consumer
or gets stuck in redelivery, and the pipeline still answers afterwards.

The inputs come from a seeded generator, so a failure reproduces with the same seed.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from conduit.embedded import EmbeddedConduit
from services.catalog import SERVICE_NAMES
from shared.bus import BusMessage
from shared.config import ConduitSettings
from shared.contracts import Response, StepEvent, UserRequest, WorkflowPosition, new_envelope
from shared.runtime.deadletter import ORIGIN

SEED = 20261125
CASES_PER_TOPIC = 40
MAX_EVENT_BYTES = 20_000
SETTLE_TIMEOUT_S = 120.0


@pytest.fixture
async def conduit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[EmbeddedConduit]:
    monkeypatch.setenv("CONDUIT_INFERENCE_BACKEND", "scripted")
    settings = ConduitSettings(
        data_dir=tmp_path, max_event_bytes=MAX_EVENT_BYTES, retry_backoff_s=0.01
    )
    async with EmbeddedConduit(settings) as running:
        await running.load_knowledge(settings.config_dir / "knowledge")
        yield running


def _valid(rng: random.Random, step: WorkflowPosition | None = None) -> StepEvent:
    """A fresh, well-formed request (new ids every time, so nothing is deduplicated)."""
    event = StepEvent(
        envelope=new_envelope(session_id=f"fuzz-{rng.randrange(10**9)}"),
        request=UserRequest(text="I was charged twice for invoice INV-1001, please refund me"),
    )
    if step is not None:
        event.envelope.workflow.CopyFrom(step)
    return event


def _structured(rng: random.Random) -> StepEvent:
    """Well-formed bytes carrying nonsense: what a buggy or hostile producer might send."""
    event = _valid(rng)
    choice = rng.randrange(8)
    if choice == 0:
        event.envelope.workflow.CopyFrom(WorkflowPosition(name="no-such-workflow", step="x"))
    elif choice == 1:
        event.envelope.workflow.CopyFrom(WorkflowPosition(name="refund", step="no-such-step"))
    elif choice == 2:
        event.envelope.deadline_unix_ms = 1
    elif choice == 3:
        event.envelope.budget.max_tokens = 1
        event.envelope.budget.tokens_used = 10**9
    elif choice == 4:
        event.request.text = "".join(chr(rng.randrange(0x20, 0x2FFF)) for _ in range(3_000))
    elif choice == 5:
        event.envelope.tenant_id = "../" * rng.randrange(1, 20)
    elif choice == 6:
        event.model_output.tool_calls.add(tool="issue_refund", arguments_json="{not json")
    else:
        event.envelope.workflow.steps_taken = 2**31
    return event


def _bytes(rng: random.Random) -> bytes:
    """Byte-level damage to a valid event, random bytes, or an oversize record."""
    raw = bytearray(_valid(rng).SerializeToString())
    choice = rng.randrange(5)
    if choice == 0:
        return bytes(raw[: rng.randrange(len(raw))])
    if choice == 1:
        for _ in range(rng.randrange(1, 8)):
            raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
        return bytes(raw)
    if choice == 2:
        return rng.randbytes(rng.randrange(1, 2_000))
    if choice == 3:
        return bytes(raw) + rng.randbytes(rng.randrange(1, 200))
    return rng.randbytes(MAX_EVENT_BYTES + 1)


async def _collect(conduit: EmbeddedConduit, topic: str) -> list[BusMessage]:
    seen: list[BusMessage] = []

    async def keep(message: BusMessage) -> None:
        seen.append(message)

    await conduit.bus.listen(topic, keep)
    return seen


async def _settled(conduit: EmbeddedConduit, condition: Callable[[], bool]) -> None:
    async def wait() -> None:
        await conduit.bus.idle()
        while not condition():
            await asyncio.sleep(0.05)
            await conduit.bus.idle()

    await asyncio.wait_for(wait(), SETTLE_TIMEOUT_S)


async def test_every_fuzzed_record_ends_in_a_dead_letter_or_a_response(
    conduit: EmbeddedConduit,
) -> None:
    rng = random.Random(SEED)
    topics = conduit.topics
    dead = await _collect(conduit, topics.deadletter)
    responses = await _collect(conduit, topics.responses)
    targets = [topics.ingest, *(topics.step(name) for name in SERVICE_NAMES)]
    sent = 0
    for topic in targets:
        for case in range(CASES_PER_TOPIC):
            value = _structured(rng).SerializeToString() if case % 2 else _bytes(rng)
            await conduit.bus.publish(topic, value, key=f"fuzz-{case}", headers={})
            sent += 1

    def accounted() -> int:
        # Once per record: a dead letter by its origin, a response by its request.
        origins = {m.headers[ORIGIN] for m in dead}
        requests = {Response.FromString(m.value).envelope.request_id for m in responses}
        return len(origins) + len(requests)

    await _settled(conduit, lambda: accounted() >= sent)

    assert accounted() >= sent, (
        f"{sent} records sent, {len(dead)} dead letters and {len(responses)} responses: "
        "some were dropped silently"
    )
    response = await conduit.client.ask(
        "Where is my order ORD-5001?", session_id="after-fuzz", timeout_s=60
    )
    assert response.HasField("answer"), f"the pipeline no longer answers: {response}"
