"""Streaming through the checks: the model's drafts are released to clients a window (a
sentence) at a time, each window only once it passed the checks a part of an answer can
be held to (no personal data, every fact grounded, no unbacked action claim).

A generation that fails a window releases nothing more; its answer's fate is the output
step's (regenerated, replaced by the template's, or handed to a person), and the client
completes or replaces what it showed from the final response. Raw model text never
reaches the stream topic.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from services.guardrail.output_checks import Check, findings_of
from shared.bus import Bus, Topics
from shared.contracts import DraftChunk, StepEvent, StreamChunk
from shared.runtime.stream import release

# A window ends after a sentence's closing mark and the space or line break that follows.
_WINDOW_END = re.compile(r"[.!?…](?=\s)|\n")
_ENDS_A_SENTENCE = re.compile(r"[.!?…][)\"']?\s*$")
# Generations whose drafts are still arriving; the oldest is forgotten past this many.
MAX_OPEN_GENERATIONS = 4096

log = logging.getLogger(__name__)


@dataclass
class _Generation:
    context: StepEvent
    first: StreamChunk
    pending: str = ""
    released_seq: int = 0
    blocked: bool = False


class WindowRelease:
    """Example: `WindowRelease(checks, topics).bind(bus)`, then `await release.handle(draft)`
    for each `DraftChunk` of the drafts topic."""

    def __init__(self, checks: Sequence[Check], topics: Topics) -> None:
        self._checks = checks
        self._topic = topics.stream
        self._bus: Bus | None = None
        self._open: OrderedDict[str, _Generation] = OrderedDict()

    def bind(self, bus: Bus) -> None:
        self._bus = bus

    async def handle(self, draft: DraftChunk) -> None:
        chunk = draft.chunk
        generation = self._generation(draft)
        if generation is None:
            return
        generation.pending += chunk.text
        cut = _last_window_end(generation.pending)
        if draft.last:
            self._open.pop(chunk.generation_id, None)
            # The last sentence needs no space after it; a tail that ends no sentence was cut
            # (by the token or length limit) and is left to the checked response.
            if draft.finish_reason != "length" and _ENDS_A_SENTENCE.search(generation.pending):
                cut = len(generation.pending)
        ready, generation.pending = generation.pending[:cut], generation.pending[cut:]
        for window in _windows(ready):
            await self._release(generation, window)

    def _generation(self, draft: DraftChunk) -> _Generation | None:
        chunk = draft.chunk
        known = self._open.get(chunk.generation_id)
        if known is not None:
            return known
        if chunk.seq != 0:
            return None  # its start was forgotten or never seen: nothing of it is released
        generation = _Generation(context=draft.context, first=chunk)
        self._open[chunk.generation_id] = generation
        while len(self._open) > MAX_OPEN_GENERATIONS:
            self._open.popitem(last=False)
        return generation

    async def _release(self, generation: _Generation, window: str) -> None:
        if generation.blocked or not window.strip():
            return
        generation.context.model_output.text = window
        # Parsing and embedding take milliseconds: off the event loop, like the output stage.
        findings = await asyncio.to_thread(findings_of, generation.context, self._checks)
        if findings:
            generation.blocked = True
            log.info(
                "stream window held back",
                extra={"request_id": generation.first.request_id, "findings": findings},
            )
            return
        assert self._bus is not None, "bind() the bus before handling drafts"
        chunk = StreamChunk()
        chunk.CopyFrom(generation.first)
        chunk.text, chunk.seq = window, generation.released_seq
        generation.released_seq += 1
        await release(self._bus, self._topic, chunk)


def _windows(text: str) -> list[str]:
    """`text` cut after each window end (the last piece is whatever follows the last one)."""
    windows, start = [], 0
    for match in _WINDOW_END.finditer(text):
        windows.append(text[start : match.end()])
        start = match.end()
    return [*windows, text[start:]] if text[start:] else windows


def _last_window_end(text: str) -> int:
    """Where the last complete window of `text` ends (0: none is complete yet)."""
    ends = [match.end() for match in _WINDOW_END.finditer(text)]
    return ends[-1] if ends else 0
