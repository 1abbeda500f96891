"""Late answers join the conversation: the responses that come after a caller's ask returned
(an approved or rejected call, a person's reply) are appended to the session's history once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from services.gateway.late_answers import LateAnswers, mark_awaiting
from shared.bus import BusMessage
from shared.contracts import Answer, Envelope, Handoff, Pending, Response, Turn
from shared.memory import MemoryRetention, MemoryStore, SqliteMemory

TENANT, SESSION, REQUEST = "acme", "s-late", "r-late"
WAITING = "Your refund is waiting for a supervisor's approval."
HANDED = "A colleague will get back to you shortly."


@pytest.fixture
async def memory(tmp_path: Path) -> AsyncIterator[MemoryStore]:
    store = SqliteMemory(
        tmp_path / "memory.sqlite3", MemoryRetention.uniform(timedelta(hours=1)), timeout_s=1.0
    )
    yield store
    await store.close()


def _response(**outcome: Answer | Handoff | Pending) -> Response:
    envelope = Envelope(tenant_id=TENANT, session_id=SESSION, request_id=REQUEST)
    return Response(envelope=envelope, **outcome)  # type: ignore[arg-type]


def _message(response: Response) -> BusMessage:
    return BusMessage(topic="conduit.responses", value=response.SerializeToString())


async def _asked_and_parked(memory: MemoryStore) -> Response:
    """What the gateway stores when an ask comes back pending."""
    pending = _response(pending=Pending(approval_id="a1", tool="issue_refund", message=WAITING))
    await memory.append_turns(
        TENANT,
        SESSION,
        REQUEST,
        [Turn(role="user", content="Refund INV-1001"), Turn(role="assistant", content=WAITING)],
    )
    await mark_awaiting(memory, pending, WAITING)
    return pending


async def _conversation(memory: MemoryStore) -> list[tuple[str, str]]:
    return [(t.role, t.content) for t in await memory.turns(TENANT, SESSION)]


async def test_the_answer_of_a_parked_request_joins_its_conversation_once(
    memory: MemoryStore,
) -> None:
    await _asked_and_parked(memory)
    late = LateAnswers(memory)
    answer = _response(answer=Answer(text="Refund of $42.00 issued for INV-1001."))

    await late.on_response(_message(answer))
    await late.on_response(_message(answer))  # a redelivery

    assert await _conversation(memory) == [
        ("user", "Refund INV-1001"),
        ("assistant", WAITING),
        ("assistant", "Refund of $42.00 issued for INV-1001."),
    ], "the late answer must be appended exactly once"


async def test_the_reply_the_caller_was_already_shown_is_not_added_again(
    memory: MemoryStore,
) -> None:
    pending = await _asked_and_parked(memory)

    await LateAnswers(memory).on_response(_message(pending))

    assert [c for _, c in await _conversation(memory)].count(WAITING) == 1, (
        "the pending response itself, read off the topic, must not repeat its message"
    )


async def test_a_response_nobody_awaits_is_left_to_the_ask_that_receives_it(
    memory: MemoryStore,
) -> None:
    await LateAnswers(memory).on_response(_message(_response(answer=Answer(text="Hello."))))

    assert await _conversation(memory) == [], (
        "a synchronous answer is stored by its ask; the shared consumer must not store it too"
    )


async def test_a_rejection_then_a_persons_reply_both_join_in_order(memory: MemoryStore) -> None:
    await _asked_and_parked(memory)
    late = LateAnswers(memory)

    await late.on_response(_message(_response(handoff=Handoff(reason="rejected", message=HANDED))))
    await late.on_response(_message(_response(answer=Answer(text="We refunded you by hand."))))
    await late.on_response(_message(_response(answer=Answer(text="A stray second answer."))))

    assert [c for _, c in await _conversation(memory)][1:] == [
        WAITING,
        HANDED,
        "We refunded you by hand.",
    ], "each later reply joins once, in order, and nothing after the request's answer"


async def test_a_record_that_is_no_response_is_skipped(memory: MemoryStore) -> None:
    await _asked_and_parked(memory)

    await LateAnswers(memory).on_response(BusMessage(topic="conduit.responses", value=b"\xff\x00"))

    assert len(await _conversation(memory)) == 2, "a malformed record must change nothing"
