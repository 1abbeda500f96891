"""Nearest-centroid intent classification over MiniLM sentence embeddings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from services.intent.catalog import IntentCatalog

F32 = npt.NDArray[np.float32]


class Embedder(Protocol):
    def warm_up(self) -> None: ...

    def embed(self, texts: Sequence[str]) -> F32: ...


@dataclass(frozen=True)
class Classification:
    """The best intent, its cosine (`confidence`) and every intent's cosine, best first."""

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
        """Embed every example once and keep one unit-length centroid per intent."""
        self._embedder.warm_up()
        self._centroid_matrix()

    def classify(self, texts: Sequence[str]) -> list[Classification]:
        """Classify each text; CPU-bound, so call it off the event loop."""
        if not texts:
            return []
        similarities = self._embedder.embed(texts) @ self._centroid_matrix().T
        return [self._decide(row) for row in similarities]

    def _centroid_matrix(self) -> F32:
        if self._centroids is None:
            centroids = np.stack(
                [
                    self._embedder.embed(self._catalog.intents[name].examples).mean(axis=0)
                    for name in self._names
                ]
            )
            norms = np.linalg.norm(centroids, axis=1, keepdims=True)
            self._centroids = (centroids / norms).astype(np.float32)
        return self._centroids

    def _decide(self, similarities: F32) -> Classification:
        order = np.argsort(-similarities, kind="stable")
        scores = tuple((self._names[i], float(similarities[i])) for i in order)
        best, second = scores[0][1], scores[1][1]
        fallback = best < self._catalog.threshold or best - second < self._catalog.margin
        return Classification(
            intent=scores[0][0], confidence=best, fallback=fallback, scores=scores
        )
