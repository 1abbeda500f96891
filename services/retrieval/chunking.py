"""Splitting Markdown or plain text into paragraph-aligned chunks of about 60-120 words."""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(?P<text>.+?)\s*#*\s*$")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class TextChunk:
    """Paragraphs under one heading; `heading` is the nearest one above them ("" if none)."""

    heading: str
    text: str

    @property
    def embedding_text(self) -> str:
        return f"{self.heading}\n{self.text}" if self.heading else self.text


def first_heading(markdown: str) -> str | None:
    for line in markdown.splitlines():
        match = _HEADING.match(line)
        if match:
            return match["text"]
    return None


def split_into_chunks(
    text: str, *, markdown: bool = True, min_words: int = 60, max_words: int = 120
) -> list[TextChunk]:
    """Chunks in document order; a chunk never spans a heading and never splits a
    paragraph unless the paragraph alone is longer than `max_words`. Example:

    >>> [c.heading for c in split_into_chunks("# Refunds\\n\\nWithin 60 days.")]
    ['Refunds']
    """
    if not 0 < min_words <= max_words:
        raise ValueError(f"need 0 < min_words <= max_words, got {min_words}, {max_words}")
    chunks: list[TextChunk] = []
    for heading, paragraphs in _sections(text, markdown=markdown):
        pieces = [piece for p in paragraphs for piece in _split_long(p, max_words)]
        chunks.extend(TextChunk(heading, body) for body in _pack(pieces, min_words, max_words))
    return chunks


def _sections(text: str, *, markdown: bool) -> list[tuple[str, list[str]]]:
    """(heading, paragraphs) pairs; a heading line also ends the paragraph it interrupts."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    for block in _PARAGRAPH_BREAK.split(text.replace("\r\n", "\n")):
        lines: list[str] = []
        for line in block.strip().splitlines():
            heading = _HEADING.match(line) if markdown else None
            if heading is None:
                lines.append(line.strip())
                continue
            if lines:
                sections[-1][1].append("\n".join(lines))
                lines = []
            sections.append((heading["text"], []))
        if lines:
            sections[-1][1].append("\n".join(lines))
    return [(heading, paragraphs) for heading, paragraphs in sections if paragraphs]


def _split_long(paragraph: str, max_words: int) -> list[str]:
    if _words(paragraph) <= max_words:
        return [paragraph]
    pieces: list[str] = []
    current: list[str] = []
    for sentence in _SENTENCE_END.split(paragraph):
        for part in _word_slices(sentence, max_words):
            if current and _words(" ".join([*current, part])) > max_words:
                pieces.append(" ".join(current))
                current = []
            current.append(part)
    if current:
        pieces.append(" ".join(current))
    return pieces


def _word_slices(sentence: str, max_words: int) -> list[str]:
    words = sentence.split()
    return [" ".join(words[i : i + max_words]) for i in range(0, len(words), max_words)]


def _pack(pieces: list[str], min_words: int, max_words: int) -> list[str]:
    """Join consecutive pieces while they fit in `max_words`; a chunk still under
    `min_words` takes the next piece anyway, since a tiny chunk retrieves poorly."""
    packed: list[list[str]] = []
    for piece in pieces:
        if packed and (
            _words(" ".join(packed[-1])) < min_words
            or _words(" ".join([*packed[-1], piece])) <= max_words
        ):
            packed[-1].append(piece)
        else:
            packed.append([piece])
    return ["\n\n".join(group) for group in packed]


def _words(text: str) -> int:
    return len(text.split())
