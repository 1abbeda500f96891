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

A sentence close to one source can still take its date, amount or duration from another
that speaks of something else ("return an item within 7 days", where 7 days is the
price-drop rule): every such value must be said by a source sentence at least `value_floor`
close to the answer's sentence. Chosen on tests/data/value_context_tuning.yaml (faithful
values 0.62 to 1.0; values taken from another sentence 0.27 to 0.43, the rest, taken from
the same sentence or a near twin, are beyond any bar's reach).
"""

from __future__ import annotations

import re

import numpy as np

from shared.contracts import Chunk, StepEvent
from shared.embeddings import Embedder
from shared.embeddings.embedder import F32
from shared.grounding.evidence import Evidence
from shared.grounding.kinds import Kind
from shared.grounding.matching import is_grounded
from shared.grounding.mentions import find_mentions
from shared.text.sentences import sentences

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
DEFAULT_THRESHOLD = 0.78
DEFAULT_VALUE_FLOOR = 0.5
# Ids and statuses come from tools, never from a policy's sentences.
_PLACED_KINDS: frozenset[Kind] = frozenset({"date", "time", "amount", "duration"})


class SourceSupport:
    """Example: `SourceSupport(default_embedder()).check(event)` is None when supported."""

    def __init__(
        self,
        embedder: Embedder,
        threshold: float = DEFAULT_THRESHOLD,
        value_floor: float = DEFAULT_VALUE_FLOOR,
    ) -> None:
        self._embedder = embedder
        self._threshold = threshold
        self._value_floor = value_floor

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
        similarity = vectors[: len(said)] @ vectors[len(said) :].T
        closest = similarity.max(axis=1)
        unsupported = np.flatnonzero(closest < self._threshold)
        if len(unsupported):
            return (
                f"{len(unsupported)} sentence(s) of the answer say what no retrieved source "
                f"says (closest similarity {float(closest.min()):.2f}, needed "
                f"{self._threshold:.2f})"
            )
        misplaced = self._misplaced_values(said, known, similarity)
        if not misplaced:
            return None
        return (
            f"the answer states {', '.join(misplaced)} of something other than what the source "
            f"saying it speaks of (source sentence similarity under {self._value_floor:.2f})"
        )

    def _misplaced_values(self, said: list[str], known: list[str], similarity: F32) -> list[str]:
        """The kind of each date, amount or duration a sentence of the answer states that
        only source sentences far from it say (values no source says are `grounded`'s)."""
        vouching = [Evidence.from_request([], [Chunk(text=sentence)]) for sentence in known]
        misplaced: list[str] = []
        for row, sentence in enumerate(said):
            for mention in find_mentions(sentence, kinds=_PLACED_KINDS):
                sayers = [j for j, facts in enumerate(vouching) if is_grounded(mention, facts)]
                if sayers and max(similarity[row, j] for j in sayers) < self._value_floor:
                    misplaced.append(f"a {mention.kind}")
        return misplaced
