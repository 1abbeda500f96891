"""A client's stream ends equal to the checked answer."""

from __future__ import annotations

from shared.contracts import Answer, Response, StreamChunk
from shared.stream_completion import completing_chunk, shown_after


def _chunk(text: str, seq: int, generation: str = "g1") -> StreamChunk:
    return StreamChunk(request_id="r", generation_id=generation, seq=seq, text=text, model="m")


def _answer(text: str, produced_by: str = "model") -> Response:
    response = Response(answer=Answer(text=text, produced_by=produced_by))
    response.envelope.request_id = "r"
    return response


def test_the_shown_text_is_the_newest_generations() -> None:
    shown = None
    for chunk in [_chunk("Old. ", 0), _chunk("New ", 0, "g2"), _chunk("text.", 1, "g2")]:
        shown = shown_after(shown, chunk)

    assert shown is not None
    assert (shown.generation_id, shown.text) == ("g2", "New text."), shown


def test_a_stream_that_already_shows_the_answer_needs_no_completion() -> None:
    assert completing_chunk(_chunk("Done.", 0), _answer("Done.")) is None


def test_a_stream_that_stopped_short_is_completed_with_the_rest_of_the_answer() -> None:
    shown = shown_after(None, _chunk("Your order is shipped. ", 0))

    rest = completing_chunk(shown, _answer("Your order is shipped. It arrives Monday."))

    assert rest is not None, "the rest of the answer was not sent"
    assert (rest.generation_id, rest.seq, rest.text) == (
        "g1",
        1,
        "It arrives Monday.",
    ), rest


def test_an_answer_other_than_what_was_shown_replaces_it_as_a_new_generation() -> None:
    shown = shown_after(None, _chunk("It was deliv", 0))

    replacement = completing_chunk(shown, _answer("Your order is shipped.", "template"))

    assert replacement is not None
    assert replacement.generation_id != "g1", "a replacement must start a new generation"
    assert (replacement.seq, replacement.text, replacement.model) == (
        0,
        "Your order is shipped.",
        "template",
    ), replacement


def test_an_answer_with_nothing_shown_is_sent_whole() -> None:
    replacement = completing_chunk(None, _answer("Hello."))

    assert replacement is not None, "the answer was not sent"
    assert replacement.text == "Hello.", replacement
