"""What a client has shown of a streamed answer, and how the final response completes it.

The stream carries only windows the output guardrail released, and may lag behind the
response (another topic) or stop short (a window held back, a regenerated or template
answer). The response's answer passed every check, so a client ends its stream with it:
the rest of the shown generation when that generation is the start of the answer, else
the whole answer as a new generation, which replaces what was shown.
"""

from __future__ import annotations

from shared.contracts import Response, StreamChunk, derived_id


def shown_after(shown: StreamChunk | None, chunk: StreamChunk) -> StreamChunk:
    """The text shown of the newest generation once `chunk` is shown too."""
    if shown is None or shown.generation_id != chunk.generation_id:
        return StreamChunk(
            request_id=chunk.request_id,
            session_id=chunk.session_id,
            step=chunk.step,
            generation_id=chunk.generation_id,
            seq=chunk.seq,
            text=chunk.text,
            model=chunk.model,
        )
    shown.text += chunk.text
    shown.seq = chunk.seq
    return shown


def completing_chunk(shown: StreamChunk | None, response: Response) -> StreamChunk | None:
    """The chunk that makes the shown text equal the response's answer (None if it does).

    >>> first = StreamChunk(generation_id="g", seq=0, text="Your order ")
    >>> done = Response(answer={"text": "Your order has shipped."})
    >>> completing_chunk(first, done).text
    'has shipped.'
    """
    final = response.answer.text
    if shown is not None and shown.text == final:
        return None
    if shown is not None and final.startswith(shown.text):
        return StreamChunk(
            request_id=shown.request_id,
            session_id=shown.session_id,
            step=shown.step,
            generation_id=shown.generation_id,
            seq=shown.seq + 1,
            text=final[len(shown.text) :],
            model=shown.model,
        )
    envelope = response.envelope
    return StreamChunk(
        request_id=envelope.request_id,
        session_id=envelope.session_id,
        step=envelope.workflow.step,
        generation_id=derived_id(envelope.request_id, "checked-answer"),
        seq=0,
        text=final,
        model=response.answer.produced_by or envelope.versions.model,
    )
