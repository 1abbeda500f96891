"""The `supported_by_sources` output check: an answer drawn from retrieved sources says
nothing they do not say.

A sentence with no date, amount or id in it slips past the grounding check however false
it is ("the warranty is only available to authorized users"). Here each sentence of an
answer over retrieved chunks must be close in meaning (MiniLM cosine similarity) to some
sentence of those chunks. The threshold is strict on purpose: a paraphrase it refuses costs
a regeneration or the template's answer, an invention it passes reaches a customer. It was
set on a tuning set of our own (nine faithful and eight invented sentences about the shipped
policies; faithful ones scored 0.77 to 1.0, invented 0.45 to 0.77), never on the evaluation
set. Answers stating tool results (a prompt with slots) are left to the other checks.
"""

from __future__ import annotations

import re

import numpy as np

from shared.contracts import StepEvent
from shared.embeddings import Embedder
from shared.text.sentences import sentences

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
DEFAULT_THRESHOLD = 0.78


class SourceSupport:
    """Example: `SourceSupport(default_embedder()).check(event)` is None when supported."""

    def __init__(self, embedder: Embedder, threshold: float = DEFAULT_THRESHOLD) -> None:
        self._embedder = embedder
        self._threshold = threshold

    def check(self, event: StepEvent) -> str | None:
        chunks = event.retrieval.chunks
        if not chunks or event.prompt.answer_slots:
            return None
        said = [s for s in _SENTENCE_END.split(event.model_output.text.strip()) if s]
        known = [s for chunk in chunks for s in sentences(chunk.text)]
        if not said or not known:
            return None
        vectors = self._embedder.embed([*said, *known])
        # L2-normalised vectors: the dot product is the cosine similarity.
        closest = (vectors[: len(said)] @ vectors[len(said) :].T).max(axis=1)
        unsupported = np.flatnonzero(closest < self._threshold)
        if not len(unsupported):
            return None
        return (
            f"{len(unsupported)} sentence(s) of the answer say what no retrieved source says "
            f"(closest similarity {float(closest.min()):.2f}, needed {self._threshold:.2f})"
        )
