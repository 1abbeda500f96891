from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from shared.embeddings import CachedEmbedder, StoredVectors
from shared.embeddings.embedder import F32
from tests.fixtures.metrics import RecordedMetrics


class CountingEmbedder:
    """Deterministic vectors from text length; remembers every batch it was asked for."""

    dimension = 4
    identity = "counting text lengths"

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


def test_stored_vectors_are_read_back_by_the_next_process_without_embedding(
    tmp_path: Path,
) -> None:
    first = CountingEmbedder()
    written = StoredVectors(first, tmp_path).embed(["refund", "order"])
    second = CountingEmbedder()

    read = StoredVectors(second, tmp_path).embed(["refund", "order"])

    assert second.batches == [], f"embedded again: {second.batches}"
    np.testing.assert_array_equal(read, written)


def test_changed_texts_are_embedded_afresh(tmp_path: Path) -> None:
    StoredVectors(CountingEmbedder(), tmp_path).embed(["refund", "order"])
    inner = CountingEmbedder()

    StoredVectors(inner, tmp_path).embed(["refund", "order", "person"])

    assert inner.batches == [["refund", "order", "person"]], inner.batches


def test_another_embedder_identity_does_not_reuse_the_vectors(tmp_path: Path) -> None:
    StoredVectors(CountingEmbedder(), tmp_path).embed(["refund"])
    other = CountingEmbedder()
    other.identity = "another model"

    StoredVectors(other, tmp_path).embed(["refund"])

    assert other.batches == [["refund"]], other.batches


def test_an_unreadable_stored_file_is_embedded_again_and_replaced(tmp_path: Path) -> None:
    StoredVectors(CountingEmbedder(), tmp_path).embed(["refund"])
    [stored] = tmp_path.glob("*.npy")
    stored.write_bytes(b"torn write")
    inner = CountingEmbedder()

    vectors = StoredVectors(inner, tmp_path).embed(["refund"])

    assert inner.batches == [["refund"]], inner.batches
    np.testing.assert_array_equal(np.load(stored), vectors)
