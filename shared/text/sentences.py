"""Sentences of a knowledge chunk's text, as an answer would quote them."""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def sentences(text: str) -> list[str]:
    """The sentences of `text`, Markdown heading lines left out.

    >>> sentences("## Coverage\\nIt lasts 1 year. Keep the receipt!")
    ['It lasts 1 year.', 'Keep the receipt!']
    """
    body = " ".join(line for line in text.splitlines() if line and not line.startswith("#"))
    return [sentence for sentence in _SENTENCE_END.split(body.strip()) if sentence]
