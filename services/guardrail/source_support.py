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
that speaks of something else ("you can return an item within 2 business days", where 2
business days is how long the inspection takes): each such value must be said by a source
sentence within `value_gap` of the source sentence closest to the clause that states it
(clauses: the sentence cut at commas, semicolons and conjunctions, none under three words).
Chosen on tests/data/value_context_tuning.yaml, our own sentences: faithful values lie 0 to
0.09 under their clause's closest source, values taken from another sentence 0.13 to 0.66;
two taken from the very sentence or its twin (standard vs express costs) are out of reach.
"""

from __future__ import annotations

import re

import numpy as np

from shared.contracts import Chunk, StepEvent
from shared.embeddings import Embedder
from shared.embeddings.embedder import F32
from shared.grounding.evidence import Evidence
from shared.grounding.kinds import Kind, Mention
from shared.grounding.matching import is_grounded
from shared.grounding.mentions import find_mentions
from shared.text.sentences import sentences

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
DEFAULT_THRESHOLD = 0.78
DEFAULT_VALUE_GAP = 0.1
_CLAUSE_BREAK = re.compile(
    r"\s*[;,]\s*(?:(?:and|but|then|while|so)\s+)?|\s+(?:and|but|while|whereas|unless)\s+"
)
_SHORTEST_CLAUSE_WORDS = 3
# Ids and statuses come from tools, never from a policy's sentences.
_PLACED_KINDS: frozenset[Kind] = frozenset({"date", "time", "amount", "duration"})


class SourceSupport:
    """Example: `SourceSupport(default_embedder()).check(event)` is None when supported."""

    def __init__(
        self,
        embedder: Embedder,
        threshold: float = DEFAULT_THRESHOLD,
        value_gap: float = DEFAULT_VALUE_GAP,
    ) -> None:
        self._embedder = embedder
        self._threshold = threshold
        self._value_gap = value_gap

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
        misplaced = self._misplaced_values(said, known, vectors[len(said) :])
        if not misplaced:
            return None
        return (
            f"the answer states {', '.join(misplaced)} of something other than what the source "
            "saying it speaks of"
        )

    def _misplaced_values(self, said: list[str], known: list[str], known_vectors: F32) -> list[str]:
        """The kind of each date, amount or duration the answer states in a clause whose
        closest source sentences do not say it (values no source says are `grounded`'s);
        `known_vectors` are the source sentences', already embedded."""
        placed = [
            (sentence, clause, mention)
            for sentence in said
            for clause, mention in _values_by_clause(sentence)
        ]
        if not placed:
            return []
        clauses = list(dict.fromkeys(clause for _, clause, _ in placed))
        similarity = self._embedder.embed(clauses) @ known_vectors.T
        vouching = [Evidence.from_request([], [Chunk(text=sentence)]) for sentence in known]
        misplaced: list[str] = []
        for sentence, clause, mention in placed:
            row = similarity[clauses.index(clause)]
            sayers = [j for j, facts in enumerate(vouching) if is_grounded(mention, facts)]
            if any(known[j] in sentence for j in sayers):
                continue  # quoted word for word, as a template's passage is
            if sayers and max(row[j] for j in sayers) < row.max() - self._value_gap:
                misplaced.append(f"a {mention.kind}")
        return misplaced


def _values_by_clause(sentence: str) -> list[tuple[str, Mention]]:
    """Each date, amount or duration of `sentence`, with the clause it starts in."""
    spans: list[tuple[int, int]] = []
    start = 0
    for cut in [*_CLAUSE_BREAK.finditer(sentence), None]:
        end = cut.start() if cut else len(sentence)
        if spans and len(sentence[start:end].split()) < _SHORTEST_CLAUSE_WORDS:
            spans[-1] = (spans[-1][0], end)
        elif end > start:
            spans.append((start, end))
        start = cut.end() if cut else start
    if len(spans) > 1 and len(sentence[slice(*spans[0])].split()) < _SHORTEST_CLAUSE_WORDS:
        spans[:2] = [(spans[0][0], spans[1][1])]
    return [
        (sentence[slice(*span)], mention)
        for mention in find_mentions(sentence, kinds=_PLACED_KINDS)
        for span in spans
        if span[0] <= mention.start < span[1]
    ]
