"""A bounded cache in front of an embedder, for texts that recur (queries, not documents).

The intent and retrieval steps both embed the customer's message: in one process the second
is a hit, and across processes repeated questions are. Lookups are counted in
`conduit_cache_lookups_total{cache="embedding", result="hit"|"miss"}`.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from shared.embeddings.embedder import F32, Embedder
from shared.embeddings.minilm import default_embedder
from shared.telemetry.metrics import CACHE_LOOKUPS

# Texts kept: a 384-float vector is 1.5 KiB, so the cache stays under 8 MiB.
QUERY_CACHE_CAPACITY = 5000
_HIT = {"cache": "embedding", "result": "hit"}
_MISS = {"cache": "embedding", "result": "miss"}


class CachedEmbedder:
    """Embeds through `embedder`, remembering the last `capacity` texts' vectors.

    Thread-safe: steps embed in worker threads. Misses are embedded together in one batch.

    >>> queries = CachedEmbedder(default_embedder(), capacity=4096)  # doctest: +SKIP
    >>> queries.embed(["where is my refund?"])  # doctest: +SKIP
    """

    def __init__(self, embedder: Embedder, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self._embedder = embedder
        self._capacity = capacity
        self._vectors: OrderedDict[str, F32] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        return self._embedder.dimension

    @property
    def identity(self) -> str:
        return self._embedder.identity

    def warm_up(self) -> None:
        self._embedder.warm_up()

    def embed(self, texts: Sequence[str]) -> F32:
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of strings, not a single string")
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with self._lock:
            for row, text in enumerate(texts):
                vector = self._vectors.get(text)
                if vector is None:
                    missing.setdefault(text, []).append(row)
                else:
                    self._vectors.move_to_end(text)
                    out[row] = vector
        hits = len(texts) - sum(len(rows) for rows in missing.values())
        if hits:
            CACHE_LOOKUPS.add(hits, _HIT)
        if missing:
            CACHE_LOOKUPS.add(len(texts) - hits, _MISS)
            computed = self._embedder.embed(list(missing))
            with self._lock:
                for (text, rows), vector in zip(missing.items(), computed, strict=True):
                    out[rows] = vector
                    self._vectors[text] = vector
                    self._vectors.move_to_end(text)
                while len(self._vectors) > self._capacity:
                    self._vectors.popitem(last=False)
        return out


@functools.cache
def default_query_embedder() -> CachedEmbedder:
    """The process-wide query embedder: the shared MiniLM behind a cache."""
    return CachedEmbedder(default_embedder(), capacity=QUERY_CACHE_CAPACITY)
