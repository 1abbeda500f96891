"""Splitting a parsed document into token-bounded, overlapping chunks under their headings.

Sizes are counted with the embedding model's own tokenizer (`count_tokens`), so no chunk is
silently cut off by the model. Each paragraph, and only when needed each sentence or word,
is counted once; chunk sizes are sums of those counts, and each finished chunk is counted
once more as a whole, since joined text can count a token or two more than its parts.
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from services.retrieval.parsing import ParsedDocument, Section

TokenCounter = Callable[[str], int]

MIN_MAX_TOKENS = 16

# Between sentences (after . ! or ?, perhaps closed by a quote or bracket) or lines.
_SENTENCE_BREAK = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"'\u201d\u2019)\]]))\s+|\s*\n\s*")
_WORD_BREAK = re.compile(r"\s+")


@dataclass(frozen=True)
class TextChunk:
    """Text from one section; `heading` is that section's heading ("" if none)."""

    heading: str
    text: str

    @property
    def embedding_text(self) -> str:
        return f"{self.heading}\n{self.text}" if self.heading else self.text


def split_into_chunks(
    document: ParsedDocument,
    count_tokens: TokenCounter,
    *,
    max_tokens: int = 200,
    overlap_tokens: int = 32,
) -> list[TextChunk]:
    """Chunks in document order whose `embedding_text` counts at most `max_tokens`. Example:

    >>> document = ParsedDocument("Refunds", (Section("Refunds", ("Within 60 days.",)),))
    >>> split_into_chunks(document, lambda text: len(text.split()))
    [TextChunk(heading='Refunds', text='Within 60 days.')]

    A chunk never spans two sections. Whole paragraphs are packed while they fit; a
    paragraph longer than a chunk is split between sentences (or lines), a sentence longer
    than a chunk between words. Each chunk after the first of a section starts with the
    last whole sentences of the one before, up to `overlap_tokens`, so a fact on a chunk
    boundary can be found from either side. A heading is cut to half of `max_tokens`.
    """
    if max_tokens < MIN_MAX_TOKENS:
        raise ValueError(f"max_tokens must be at least {MIN_MAX_TOKENS}, got {max_tokens}")
    if not 0 <= overlap_tokens < max_tokens:
        raise ValueError(
            f"need 0 <= overlap_tokens < max_tokens, got {overlap_tokens} and {max_tokens}"
        )
    return [
        chunk
        for section in document.sections
        for chunk in _SectionSplitter(section, count_tokens, max_tokens, overlap_tokens).chunks()
    ]


@dataclass(frozen=True, slots=True)
class _Span:
    """`paragraphs[paragraph][start:end]`, counted."""

    paragraph: int
    start: int
    end: int
    tokens: int


class _SectionSplitter:
    def __init__(
        self, section: Section, count_tokens: TokenCounter, max_tokens: int, overlap_tokens: int
    ) -> None:
        self._count = count_tokens
        self._paragraphs = section.paragraphs
        self._max_tokens = max_tokens
        self._overlap_tokens = overlap_tokens
        self._heading = _truncated(section.heading, count_tokens, max_tokens // 2)
        self._budget = max_tokens - (count_tokens(self._heading) if self._heading else 0)

    def chunks(self) -> list[TextChunk]:
        pending = deque(
            fitted
            for number, paragraph in enumerate(self._paragraphs)
            for fitted in self._fitted(self._span(number, 0, len(paragraph)))
        )
        chunks: list[TextChunk] = []
        overlap: list[_Span] = []
        while pending:
            spans = self._next_chunk(overlap, pending)
            chunks.append(TextChunk(self._heading, self._text(spans)))
            overlap = self._tail(spans) if pending else []
        return chunks

    def _next_chunk(self, overlap: list[_Span], pending: deque[_Span]) -> list[_Span]:
        """`overlap` (trimmed to fit) and at least one pending span, as many as fit."""
        first = pending.popleft()
        while overlap and _tokens(overlap) + first.tokens > self._budget:
            overlap = overlap[1:]
        spans = [*overlap, first]
        tokens = _tokens(spans)
        while pending and tokens + pending[0].tokens <= self._budget:
            tokens += pending[0].tokens
            spans.append(pending.popleft())
        # The sums above can undercount the joined text: give spans back until it fits.
        while self._count(TextChunk(self._heading, self._text(spans)).embedding_text) > (
            self._max_tokens
        ):
            if len(spans) - len(overlap) > 1:
                pending.appendleft(spans.pop())
            elif overlap:
                overlap, spans = overlap[1:], spans[1:]
            else:
                halves = self._halves(spans[0])
                if len(halves) == 1:
                    break  # one character over budget: a counter no text can satisfy
                pending.extendleft(reversed(halves[1:]))
                spans = [halves[0]]
        return spans

    def _fitted(self, span: _Span) -> list[_Span]:
        """`span` as spans that each fit a chunk: itself, else its sentences, else words."""
        if span.tokens <= self._budget:
            return [span]
        parts = self._parts(span, _SENTENCE_BREAK)
        if len(parts) == 1:
            parts = self._parts(span, _WORD_BREAK)
        if len(parts) == 1:
            parts = self._halves(span)
        if len(parts) == 1:
            return parts
        return [fitted for part in parts for fitted in self._fitted(part)]

    def _tail(self, spans: list[_Span]) -> list[_Span]:
        """The last whole sentences of `spans` that fit in `overlap_tokens`."""
        tail: list[_Span] = []
        room = self._overlap_tokens
        for span in reversed(spans):
            for sentence in reversed(self._parts(span, _SENTENCE_BREAK)):
                if sentence.tokens > room:
                    return tail
                tail.insert(0, sentence)
                room -= sentence.tokens
        return tail

    def _parts(self, span: _Span, breaks: re.Pattern[str]) -> list[_Span]:
        text = self._paragraphs[span.paragraph]
        bounds: list[tuple[int, int]] = []
        position = span.start
        for match in breaks.finditer(text, span.start, span.end):
            if match.start() > position:
                bounds.append((position, match.start()))
            position = max(position, match.end())
        if position < span.end:
            bounds.append((position, span.end))
        if len(bounds) <= 1:
            return [span]
        return [self._span(span.paragraph, start, end) for start, end in bounds]

    def _halves(self, span: _Span) -> list[_Span]:
        middle = (span.start + span.end) // 2
        if middle == span.start:
            return [span]
        return [
            self._span(span.paragraph, span.start, middle),
            self._span(span.paragraph, middle, span.end),
        ]

    def _span(self, paragraph: int, start: int, end: int) -> _Span:
        return _Span(paragraph, start, end, self._count(self._paragraphs[paragraph][start:end]))

    def _text(self, spans: list[_Span]) -> str:
        """Consecutive spans of one paragraph as the original text between them."""
        pieces = []
        for number, group in itertools.groupby(spans, key=lambda span: span.paragraph):
            same_paragraph = list(group)
            pieces.append(
                self._paragraphs[number][same_paragraph[0].start : same_paragraph[-1].end]
            )
        return "\n\n".join(pieces)


def _tokens(spans: list[_Span]) -> int:
    return sum(span.tokens for span in spans)


def _truncated(text: str, count_tokens: TokenCounter, limit: int) -> str:
    """The longest prefix of `text` within `limit` tokens, cut at a word when it can be."""
    if not text or count_tokens(text) <= limit:
        return text
    low, high = 0, len(text)  # text[:low] fits, text[:high + 1] does not
    while low < high:
        middle = (low + high + 1) // 2
        if count_tokens(text[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    prefix = text[:low]
    words = prefix.rsplit(maxsplit=1)
    if not text[low].isspace() and len(words) == 2:
        prefix = words[0]  # drop the word the cut fell in
    return prefix.rstrip(" >")
