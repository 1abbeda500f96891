"""Answers as they are written: a step's text pieces on the stream topic, keyed by request id.

Streaming is for people watching; it carries no delivery guarantee. What counts is the
`Response` on the responses topic, published only after the output guardrail. Each
generation (a first try, a fallback model, a retried step) has its own id, so a client
shows the newest one and drops what an abandoned one had written.
"""

from __future__ import annotations

from shared.bus import Bus
from shared.contracts import Envelope, StreamChunk, new_id


class AnswerStream:
    """The stream of one step of one request.

    >>> stream = AnswerStream(bus, topics.stream, event.envelope, "answer")  # doctest: +SKIP
    >>> writer = stream.generation("smollm2")  # doctest: +SKIP
    >>> await writer.write("Your refund ")  # doctest: +SKIP
    """

    def __init__(self, bus: Bus, topic: str, envelope: Envelope, step: str) -> None:
        self._bus = bus
        self._topic = topic
        self._request_id = envelope.request_id
        self._session_id = envelope.session_id
        self._step = step

    def generation(self, model: str) -> GenerationWriter:
        """A writer for a new generation; its text replaces anything streamed before."""
        return GenerationWriter(self, model)

    async def publish(self, chunk: StreamChunk) -> None:
        """Send `chunk`, stamped with this stream's request, session and step."""
        chunk.request_id, chunk.session_id, chunk.step = (
            self._request_id,
            self._session_id,
            self._step,
        )
        await self._bus.publish(
            self._topic, chunk.SerializeToString(), key=self._request_id, headers={}
        )


class GenerationWriter:
    """Writes one generation's pieces in order."""

    def __init__(self, stream: AnswerStream, model: str) -> None:
        self._stream = stream
        self._model = model
        self._id = new_id()
        self._seq = 0

    async def write(self, text: str) -> None:
        if not text:
            return
        chunk = StreamChunk(generation_id=self._id, seq=self._seq, text=text, model=self._model)
        self._seq += 1
        await self._stream.publish(chunk)
