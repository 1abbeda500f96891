"""Streaming through the checks: clients see a draft only a checked sentence at a time."""

from __future__ import annotations

import asyncio

from services.guardrail.output_checks import Check
from services.guardrail.release import WindowRelease
from shared.bus import BusMessage, MemoryBus, Topics
from shared.contracts import DraftChunk, StepEvent, StreamChunk

TOPICS = Topics("t")


def _no_delivered(event: StepEvent) -> str | None:
    return "a status no tool result has" if "delivered" in event.model_output.text else None


def _drafts(pieces: list[str], *, finish_reason: str = "stop") -> list[DraftChunk]:
    drafts = [
        DraftChunk(chunk=StreamChunk(request_id="r", generation_id="g", seq=n, text=text))
        for n, text in enumerate(pieces)
    ]
    drafts[0].context.envelope.request_id = "r"
    drafts.append(
        DraftChunk(
            chunk=StreamChunk(request_id="r", generation_id="g", seq=len(pieces)),
            last=True,
            finish_reason=finish_reason,
        )
    )
    return drafts


async def _released(drafts: list[DraftChunk], checks: list[Check] | None = None) -> list[str]:
    bus = MemoryBus()
    shown: list[StreamChunk] = []

    async def keep(message: BusMessage) -> None:
        shown.append(StreamChunk.FromString(message.value))

    await bus.listen(TOPICS.stream, keep)
    await bus.start()
    release = WindowRelease([_no_delivered] if checks is None else checks, TOPICS)
    release.bind(bus)
    for draft in drafts:
        await release.handle(draft)
    await asyncio.sleep(0.05)  # listener deliveries are tasks of their own
    await bus.stop()
    assert [c.seq for c in shown] == list(range(len(shown))), "released out of order"
    return [c.text for c in shown]


async def test_a_draft_is_released_a_whole_sentence_at_a_time() -> None:
    released = await _released(_drafts(["Your order is ", "shipped. It arr", "ives soon."]))

    assert released == ["Your order is shipped.", " It arrives soon."], released


async def test_nothing_is_released_from_the_first_failing_sentence_on() -> None:
    released = await _released(_drafts(["It is shipped. It was delivered. ", "Thanks."]))

    assert released == ["It is shipped."], released


async def test_the_unfinished_tail_of_an_answer_cut_by_the_token_limit_is_held_back() -> None:
    released = await _released(_drafts(["It is shipped. It arrives on"], finish_reason="length"))

    assert released == ["It is shipped."], released


async def test_a_tail_that_ends_no_sentence_is_left_to_the_checked_response() -> None:
    released = await _released(_drafts(["It is shipped. It arrives on Dec"]))

    assert released == ["It is shipped."], released


async def test_a_sentence_is_not_cut_at_the_point_of_an_amount() -> None:
    released = await _released(_drafts(["You get 49.", "99 USD back. Bye."]))

    assert released == ["You get 49.99 USD back.", " Bye."], released


async def test_drafts_of_a_generation_whose_start_was_never_seen_are_not_released() -> None:
    released = await _released(_drafts(["It is shipped. ", "It arrives soon. "])[1:])

    assert released == [], released
