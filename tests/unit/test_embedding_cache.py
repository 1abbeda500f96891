from collections.abc import Sequence

import numpy as np
import pytest

from shared.embeddings import CachedEmbedder
from shared.embeddings.embedder import F32
from tests.fixtures.metrics import RecordedMetrics


class CountingEmbedder:
    """Deterministic vectors from text length; remembers every batch it was asked for."""

    dimension = 4

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def warm_up(self) -> None:
        pass

    def embed(self, texts: Sequence[str]) -> F32:
        self.batches.append(list(texts))
        return np.array([[len(t), 1, 0, 0] for t in texts], dtype=np.float32)


def test_a_repeated_text_is_embedded_once() -> None:
    inner = CountingEmbedder()
    cache = CachedEmbedder(inner, capacity=8)

    first = cache.embed(["refund please"])
    second = cache.embed(["refund please"])

    assert inner.batches == [["refund please"]], f"embedded again: {inner.batches}"
    np.testing.assert_array_equal(first, second)


def test_only_the_misses_are_embedded_and_rows_keep_their_order() -> None:
    inner = CountingEmbedder()
    cache = CachedEmbedder(inner, capacity=8)
    cache.embed(["bb"])

    vectors = cache.embed(["a", "bb", "ccc"])

    assert inner.batches[-1] == ["a", "ccc"], f"cached text embedded again: {inner.batches}"
    assert vectors[:, 0].tolist() == [1, 2, 3], f"rows out of order: {vectors}"


def test_the_least_recently_used_text_is_evicted_beyond_capacity() -> None:
    inner = CountingEmbedder()
    cache = CachedEmbedder(inner, capacity=2)
    cache.embed(["a", "b"])
    cache.embed(["a"])  # "b" is now the least recently used
    cache.embed(["c"])

    cache.embed(["a", "b"])

    assert inner.batches[-1] == ["b"], f"wrong text evicted: {inner.batches}"


def test_hits_and_misses_are_counted(recorded_metrics: RecordedMetrics) -> None:
    hits = recorded_metrics.total("conduit.cache.lookups", cache="embedding", result="hit")
    misses = recorded_metrics.total("conduit.cache.lookups", cache="embedding", result="miss")
    cache = CachedEmbedder(CountingEmbedder(), capacity=8)

    cache.embed(["x", "y"])
    cache.embed(["x"])

    after_hits = recorded_metrics.total("conduit.cache.lookups", cache="embedding", result="hit")
    after_misses = recorded_metrics.total("conduit.cache.lookups", cache="embedding", result="miss")
    assert (after_hits - hits, after_misses - misses) == (1, 2), "hit/miss counts wrong"


def test_a_cache_without_room_is_refused() -> None:
    with pytest.raises(ValueError, match="capacity"):
        CachedEmbedder(CountingEmbedder(), capacity=0)
