"""Nearest-centroid intent classification over sentence embeddings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.intent.catalog import IntentCatalog
from shared.embeddings import Embedder

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Classification:
    """The nearest intent, its cosine (`confidence`) and every intent's cosine, best first."""

    intent: str
    confidence: float
    fallback: bool
    scores: tuple[tuple[str, float], ...]


class IntentClassifier:
    """Example:

    >>> classifier = IntentClassifier(catalog, default_embedder())  # doctest: +SKIP
    >>> classifier.warm_up()  # doctest: +SKIP
    >>> classifier.classify(["I was charged twice"])[0].intent  # doctest: +SKIP
    'refund'
    """

    def __init__(self, catalog: IntentCatalog, embedder: Embedder) -> None:
        self._catalog = catalog
        self._embedder = embedder
        self._names = tuple(catalog.intents)
        self._centroids: F32 | None = None

    def warm_up(self) -> None:
        """Load the embedder and compute the centroids, once."""
        self._embedder.warm_up()
        self._centroid_matrix()

    def classify(self, texts: Sequence[str]) -> list[Classification]:
        """Classify each text; CPU-bound, so call it off the event loop."""
        if not texts:
            return []
        similarities = self._embedder.embed(texts) @ self._centroid_matrix().T
        return [self._decide(row) for row in similarities]

    def _centroid_matrix(self) -> F32:
        """One unit-length row per intent, in catalog order, then the out-of-scope row if any."""
        if self._centroids is None:
            groups = [self._catalog.intents[name].examples for name in self._names]
            if self._catalog.out_of_scope:
                groups.append(self._catalog.out_of_scope)
            centroids = np.stack([self._embedder.embed(group).mean(axis=0) for group in groups])
            centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
            self._centroids = centroids.astype(np.float32, copy=False)
        return self._centroids

    def _decide(self, similarities: F32) -> Classification:
        intent_scores = similarities[: len(self._names)]
        order = np.argsort(-intent_scores, kind="stable")
        scores = tuple((self._names[i], float(intent_scores[i])) for i in order)
        best = scores[0][1]
        runner_up = float(np.max(np.delete(similarities, order[0])))
        fallback = best < self._catalog.threshold or best - runner_up < self._catalog.margin
        return Classification(
            intent=scores[0][0], confidence=best, fallback=fallback, scores=scores
        )
