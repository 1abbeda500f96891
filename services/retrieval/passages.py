"""The retrieved passage that answers the question best, by meaning.

A product question's answer is usually a sentence or two of one policy ("The warranty lasts
1 year from the date of delivery."); the output guardrail holds a model's answer to stating
a fact of that passage, and the template quotes it when the model's answer fails. The
passage is the sentence closest to the question, read under its section heading, with the
next-closest sentence of the same chunk, in the chunk's order: on a tuning set of twelve
questions of our own, one sentence held the answer for 7 of the 9 that reached this step,
two for 8. The next-best chunk gives a second passage, for questions of two parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from shared.contracts import Chunk
from shared.embeddings import Embedder
from shared.text.sentences import sentences

PASSAGE_SENTENCES = 2
PASSAGES = 2


class Passage(NamedTuple):
    text: str
    source_id: str


def answer_passages(question: str, chunks: Sequence[Chunk], embedder: Embedder) -> list[Passage]:
    """The passages closest to `question`, best first: one from each of the (at most two)
    chunks holding the closest sentences."""
    candidates = [(n, s) for n, chunk in enumerate(chunks) for s in sentences(chunk.text)]
    if not candidates:
        return []
    read = [f"{chunks[n].heading}: {s}" if chunks[n].heading else s for n, s in candidates]
    vectors = embedder.embed([question, *read])
    # The vectors are L2-normalised: the dot product is the cosine similarity.
    scores = vectors[1:] @ vectors[0]
    ranked = sorted(range(len(candidates)), key=lambda k: -scores[k])
    best_chunks = list(dict.fromkeys(candidates[k][0] for k in ranked))[:PASSAGES]
    passages = []
    for chunk in best_chunks:
        chosen = [k for k in ranked if candidates[k][0] == chunk][:PASSAGE_SENTENCES]
        text = " ".join(candidates[k][1] for k in sorted(chosen))
        passages.append(Passage(text, chunks[chunk].source_id))
    return passages
