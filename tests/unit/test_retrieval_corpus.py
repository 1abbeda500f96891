"""The retrieval benchmark's corpus: big enough, stable, and fair to every question."""

from __future__ import annotations

import pytest

from benchmarks.retrieval_corpus import (
    MAX_WORDS,
    MIN_PASSAGES,
    MIN_WORDS,
    RetrievalCorpus,
    build_corpus,
    source_id,
    word_count,
)


@pytest.fixture(scope="module")
def corpus() -> RetrievalCorpus:
    return build_corpus()


def test_the_corpus_is_the_same_on_every_build(corpus: RetrievalCorpus) -> None:
    again = build_corpus()
    assert again == corpus, "two builds with the same seed produced different corpora"


def test_the_corpus_has_at_least_two_thousand_passages(corpus: RetrievalCorpus) -> None:
    assert len(corpus.documents) >= MIN_PASSAGES, f"only {len(corpus.documents)} passages"


def test_every_passage_stays_within_the_word_bounds(corpus: RetrievalCorpus) -> None:
    outside = [
        (d.document_id, word_count(d.text))
        for d in corpus.documents
        if not MIN_WORDS <= word_count(d.text) <= MAX_WORDS
    ]
    assert not outside, f"passages outside {MIN_WORDS}..{MAX_WORDS} words: {outside[:5]}"


def test_document_ids_are_unique(corpus: RetrievalCorpus) -> None:
    ids = [d.document_id for d in corpus.documents]
    assert len(set(ids)) == len(ids), "two passages share a document id"


def test_there_are_at_least_two_hundred_questions_each_labelled_with_a_passage(
    corpus: RetrievalCorpus,
) -> None:
    source_ids = {source_id(d.document_id) for d in corpus.documents}
    unlabelled = [q for q in corpus.questions if q.relevant_source_id not in source_ids]
    assert len(corpus.questions) >= 200, f"only {len(corpus.questions)} questions"
    assert not unlabelled, f"questions labelled with no passage: {unlabelled[:3]}"


def test_no_two_questions_share_a_passage(corpus: RetrievalCorpus) -> None:
    labels = [q.relevant_source_id for q in corpus.questions]
    assert len(set(labels)) == len(labels), "a passage answers two questions"


def test_a_question_sentence_is_removed_from_the_passage_it_labels(corpus: RetrievalCorpus) -> None:
    text_by_source = {source_id(d.document_id): d.text for d in corpus.documents}
    leaked = [q.text for q in corpus.questions if q.text in text_by_source[q.relevant_source_id]]
    assert not leaked, f"question sentences still in their indexed passage: {leaked[:3]}"


def test_a_question_sentence_appears_in_no_other_passage(corpus: RetrievalCorpus) -> None:
    leaked = [
        (q.text, d.document_id)
        for q in corpus.questions
        for d in corpus.documents
        if q.text in d.text
    ]
    assert not leaked, f"question sentences found verbatim in other passages: {leaked[:3]}"
