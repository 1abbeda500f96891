"""The retrieved passage that answers a product question, picked by meaning (real MiniLM)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import yaml

from services.retrieval.chunking import split_into_chunks
from services.retrieval.parsing import parse_document
from services.retrieval.passages import answer_passages
from shared.config import repo_root
from shared.contracts import Chunk
from shared.embeddings import Embedder, default_embedder, default_query_embedder
from shared.text.sentences import sentences

TUNING_SET = repo_root() / "tests" / "data" / "passage_tuning.yaml"
TOP_K = 3  # as config/workflows/product_question.yaml retrieves

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


def _knowledge_chunks() -> list[Chunk]:
    chunks = []
    for path in sorted((repo_root() / "config" / "knowledge").glob("*.md")):
        document = parse_document(path.read_text(encoding="utf-8"), "")
        for number, chunk in enumerate(
            split_into_chunks(document, default_embedder().count_tokens)
        ):
            chunks.append(
                Chunk(source_id=f"{path.stem}#{number}", heading=chunk.heading, text=chunk.text)
            )
    return chunks


def _tuning_questions() -> list[dict[str, Any]]:
    questions: list[dict[str, Any]] = yaml.safe_load(TUNING_SET.read_text())["questions"]
    return questions


def test_the_passages_hold_the_answer_to_every_tuning_question(embedder: Embedder) -> None:
    chunks = _knowledge_chunks()
    vectors = embedder.embed([f"{c.heading}\n{c.text}" for c in chunks])
    missed = []
    for question in _tuning_questions():
        closest = np.argsort(-(vectors @ embedder.embed([question["q"]])[0]))[:TOP_K]
        passages = answer_passages(question["q"], [chunks[i] for i in closest], embedder)
        if not any(question["holds"] in passage.text for passage in passages):
            missed.append(question["q"])
    assert not missed, f"no passage holds the answer to: {missed}"
