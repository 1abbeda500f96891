"""`supported_by_sources`: an answer over retrieved sources says nothing they do not say
(the real MiniLM embedder)."""

from __future__ import annotations

import pytest

from services.guardrail.source_support import SourceSupport
from shared.contracts import Chunk, ModelOutput, StepEvent
from shared.embeddings import default_embedder

WARRANTY = (
    "## Coverage period\nThe warranty lasts 1 year from the date of delivery. "
    "Refurbished products carry a 6-month warranty."
)
SUPPORT = SourceSupport(default_embedder())


def _answer(text: str, *, slotted: bool = False) -> StepEvent:
    event = StepEvent(model_output=ModelOutput(text=text))
    event.retrieval.chunks.append(Chunk(source_id="warranty#1", text=WARRANTY))
    if slotted:
        event.prompt.answer_slots["amount"] = "49.99"
    return event


def test_an_answer_quoting_its_sources_is_supported() -> None:
    assert SUPPORT.check(_answer("The warranty lasts 1 year from the date of delivery.")) is None


@pytest.mark.parametrize(
    "text",
    [
        "The warranty is only available to authorized users, and we do not offer refunds.",
        "The warranty lasts 1 year. Returns are not accepted.",
    ],
)
def test_a_sentence_no_source_says_is_refused(text: str) -> None:
    finding = SUPPORT.check(_answer(text))

    assert finding is not None, f"{text!r} passed as supported by the warranty"
    assert "1 sentence(s)" in finding, finding


def test_answers_stating_tool_results_are_left_to_the_other_checks() -> None:
    assert SUPPORT.check(_answer("I have refunded 49.99 USD.", slotted=True)) is None
