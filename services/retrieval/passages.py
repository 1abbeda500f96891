"""The retrieved passage that answers the question best, by meaning.

A product question's answer is usually a sentence or two of one policy ("The warranty lasts
1 year from the date of delivery."); the output guardrail holds a model's answer to stating
a fact of that passage, and the template quotes it when the model's answer fails. The
passage is the sentence closest to the question, read under its section heading, with the
next-closest sentence of the same chunk, in the chunk's order: on a tuning set of twelve
questions of our own, one sentence held the answer for 7 of the 9 that reached this step,
two for 8.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from shared.contracts import Chunk
from shared.embeddings import Embedder

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
PASSAGE_SENTENCES = 2


def sentences(text: str) -> list[str]:
    """The sentences of a chunk's text, headings left out."""
    body = " ".join(line for line in text.splitlines() if line and not line.startswith("#"))
    return [sentence for sentence in _SENTENCE_END.split(body.strip()) if sentence]


def answer_passage(
    question: str, chunks: Sequence[Chunk], embedder: Embedder
) -> tuple[str, str] | None:
    """(passage, source id of its chunk) closest to `question`, if anything was retrieved."""
    candidates = [
        (n, i, s) for n, chunk in enumerate(chunks) for i, s in enumerate(sentences(chunk.text))
    ]
    if not candidates:
        return None
    read = [f"{chunks[n].heading}: {s}" if chunks[n].heading else s for n, _, s in candidates]
    vectors = embedder.embed([question, *read])
    # The vectors are L2-normalised: the dot product is the cosine similarity.
    scores = vectors[1:] @ vectors[0]
    best = int(np.argmax(scores))
    chunk = candidates[best][0]
    same_chunk = [k for k, (n, _, _) in enumerate(candidates) if n == chunk]
    chosen = sorted(same_chunk, key=lambda k: -scores[k])[:PASSAGE_SENTENCES]
    passage = " ".join(candidates[k][2] for k in sorted(chosen))
    return passage, chunks[chunk].source_id
