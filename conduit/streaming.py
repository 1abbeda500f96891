"""Printing an answer as it is written, for `conduit ask` (the final response follows)."""

from __future__ import annotations

from typing import TextIO

from shared.contracts import StreamChunk


class StreamPrinter:
    """Writes each piece as it comes; a new generation (a fallback model, a regenerated or
    template answer) says so and starts over, since what came before it no longer counts.

    >>> import io
    >>> out = io.StringIO(); printer = StreamPrinter(out)
    >>> for n, text in enumerate(["Your ", "refund"]):
    ...     await printer.show(StreamChunk(generation_id="g1", seq=n, text=text))  # doctest: +SKIP
    """

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._generation = ""
        self._printed = False

    async def show(self, chunk: StreamChunk) -> None:
        if chunk.generation_id != self._generation:
            if self._printed:
                self._out.write(f"\n[answer replaced: {chunk.model or 'new'} answer follows]\n")
            self._generation = chunk.generation_id
        self._out.write(chunk.text)
        self._out.flush()
        self._printed = True

    def finish(self) -> None:
        """End the streamed line before the final response is printed."""
        if self._printed:
            self._out.write("\n\n")
            self._out.flush()
