"""The one retrieved sentence that answers the question best, by meaning.

A product question's answer is usually one sentence of one policy ("standard shipping takes
3 to 5 business days"); the output guardrail holds a model's answer to stating what that
sentence states, and the template quotes it when the model's answer fails.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from shared.contracts import Chunk
from shared.embeddings import Embedder

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def sentences(text: str) -> list[str]:
    """The sentences of a chunk's text, headings left out."""
    body = " ".join(line for line in text.splitlines() if line and not line.startswith("#"))
    return [sentence for sentence in _SENTENCE_END.split(body.strip()) if sentence]


def answer_sentence(
    question: str, chunks: Sequence[Chunk], embedder: Embedder
) -> tuple[str, str] | None:
    """(sentence, source id) of the retrieved sentence closest to `question`, if any."""
    candidates = [(s, chunk.source_id) for chunk in chunks for s in sentences(chunk.text)]
    if not candidates:
        return None
    vectors = embedder.embed([question, *(sentence for sentence, _ in candidates)])
    # The vectors are L2-normalised: the dot product is the cosine similarity.
    best = int(np.argmax(vectors[1:] @ vectors[0]))
    return candidates[best]
