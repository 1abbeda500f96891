"""The retrieved passage that answers a product question, picked by meaning (real MiniLM)."""

from __future__ import annotations

import pytest

from services.retrieval.passages import answer_passages
from shared.contracts import Chunk
from shared.embeddings import Embedder, default_query_embedder
from shared.text.sentences import sentences

WARRANTY = Chunk(
    source_id="warranty#1",
    heading="Coverage period",
    text=(
        "## Coverage period\nThe warranty lasts 1 year from the date of delivery. "
        "Refurbished products carry a 6-month warranty. Keep your receipt."
    ),
)
SHIPPING = Chunk(
    source_id="shipping#2",
    heading="Shipping options and costs",
    text="Standard shipping costs 4.99 USD. Express shipping costs 14.99 USD on any order.",
)


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return default_query_embedder()


def test_a_chunk_is_read_as_its_sentences_without_headings() -> None:
    assert sentences(WARRANTY.text)[0] == "The warranty lasts 1 year from the date of delivery."


def test_the_best_passage_is_from_the_chunk_of_the_closest_sentence(embedder: Embedder) -> None:
    best, second = answer_passages("How much is express shipping?", [WARRANTY, SHIPPING], embedder)

    assert best.source_id == "shipping#2", best
    assert "14.99 USD" in best.text, best
    assert second.source_id == "warranty#1", "the next-best chunk gives the second passage"


def test_the_passage_keeps_two_sentences_in_the_chunks_order(embedder: Embedder) -> None:
    [found] = answer_passages("How long is the warranty?", [WARRANTY], embedder)

    assert found.text.count(". ") == 1, f"expected two sentences: {found.text!r}"
    assert found.text.index("1 year") < found.text.index("6-month"), found.text


def test_nothing_retrieved_gives_no_passage(embedder: Embedder) -> None:
    assert answer_passages("How long is the warranty?", [], embedder) == []
