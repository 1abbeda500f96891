"""Answers as they are written: a step's unchecked drafts, and the checked text clients see.

A step writes its text to the drafts topic (`DraftChunk`, keyed by request id); the
output guardrail checks it a window (a sentence) at a time and releases what passed to
the stream topic (`StreamChunk`), the only one clients read. Streaming is for people
watching; it carries no delivery guarantee. What counts is the `Response` on the
responses topic, published only after the output guardrail, and a client completes what
it showed from it. Each generation (a first try, a fallback model, a regenerated answer,
the template's answer) has its own id, so a client shows the newest one and drops what an
abandoned one had written.
"""

from __future__ import annotations

from shared.bus import Bus
from shared.contracts import DraftChunk, Envelope, StepEvent, StreamChunk, new_id


class DraftStream:
    """The drafts of one step of one request.

    >>> stream = DraftStream(bus, topics.drafts, event.envelope, "answer")  # doctest: +SKIP
    >>> writer = stream.generation("smollm2", context=event)  # doctest: +SKIP
    >>> await writer.write("Your refund ")  # doctest: +SKIP
    >>> await writer.finish("stop")  # doctest: +SKIP
    """

    def __init__(self, bus: Bus, topic: str, envelope: Envelope, step: str) -> None:
        self._bus = bus
        self._topic = topic
        self._request_id = envelope.request_id
        self._session_id = envelope.session_id
        self._step = step

    def generation(self, model: str, *, context: StepEvent) -> DraftWriter:
        """A writer for a new generation, checked against `context` (the request as the
        model saw it); its text replaces anything streamed before."""
        return DraftWriter(self, model, context)

    async def publish(self, draft: DraftChunk) -> None:
        """Send `draft`, stamped with this stream's request, session and step."""
        chunk = draft.chunk
        chunk.request_id, chunk.session_id, chunk.step = (
            self._request_id,
            self._session_id,
            self._step,
        )
        await self._bus.publish(
            self._topic, draft.SerializeToString(), key=self._request_id, headers={}
        )


class DraftWriter:
    """Writes one generation's pieces in order; the first carries the context."""

    def __init__(self, stream: DraftStream, model: str, context: StepEvent) -> None:
        self._stream = stream
        self._model = model
        self._context = context
        self._id = new_id()
        self._seq = 0

    async def write(self, text: str) -> None:
        if text:
            await self._send(DraftChunk(chunk=StreamChunk(text=text)))

    async def finish(self, finish_reason: str) -> None:
        """The generation is over (`stop`, or `length` when cut by the token limit)."""
        await self._send(DraftChunk(last=True, finish_reason=finish_reason))

    async def _send(self, draft: DraftChunk) -> None:
        draft.chunk.generation_id, draft.chunk.seq, draft.chunk.model = (
            self._id,
            self._seq,
            self._model,
        )
        if self._seq == 0:
            draft.context.CopyFrom(self._context)
        self._seq += 1
        await self._stream.publish(draft)


async def release(bus: Bus, topic: str, chunk: StreamChunk) -> None:
    """Publish checked text to the stream clients read, keyed by its request."""
    await bus.publish(topic, chunk.SerializeToString(), key=chunk.request_id, headers={})
