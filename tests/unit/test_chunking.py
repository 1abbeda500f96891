"""Chunking: token-bounded, paragraph-aligned chunks under their section's heading, with overlap."""

import itertools
from pathlib import Path

import pytest

from services.retrieval.chunking import TextChunk, split_into_chunks
from services.retrieval.parsing import ParsedDocument, Section, parse_document
from shared.config import ConduitSettings
from shared.embeddings import default_embedder


def _words(text: str) -> int:
    return len(text.split())


def _sentence(label: str, words: int = 10) -> str:
    """`words` words, all starting with `label`, ending in a full stop."""
    return " ".join(f"{label}w{i}" for i in range(words)) + "."


def _paragraph(label: str, sentences: int, words: int = 10) -> str:
    return " ".join(_sentence(f"{label}s{n}", words) for n in range(sentences))


def _document(*sections: tuple[str, list[str]]) -> ParsedDocument:
    return ParsedDocument(
        title=None,
        sections=tuple(Section(heading, tuple(paragraphs)) for heading, paragraphs in sections),
    )


def _words_in_order(chunks: list[TextChunk]) -> list[str]:
    return [word for chunk in chunks for word in chunk.text.split()]


def test_each_chunk_carries_its_sections_heading() -> None:
    document = parse_document("intro\n\n# Refunds\n\nback\n\n## Timing\n\nsoon", "text/markdown")
    chunks = split_into_chunks(document, _words)
    assert [(c.heading, c.text) for c in chunks] == [
        ("", "intro"),
        ("Refunds", "back"),
        ("Refunds > Timing", "soon"),
    ], chunks


def test_a_chunk_never_spans_two_sections() -> None:
    document = _document(("A", [_paragraph("a", 2)]), ("B", [_paragraph("b", 2)]))
    chunks = split_into_chunks(document, _words, max_tokens=200, overlap_tokens=0)
    assert [c.heading for c in chunks] == ["A", "B"], "two small sections, two chunks"
    assert chunks[1].text == _paragraph("b", 2), f"section B's chunk took other text: {chunks}"


def test_whole_paragraphs_are_packed_while_they_fit() -> None:
    paragraphs = [_paragraph(f"p{n}", 3) for n in range(6)]  # 30 words each
    chunks = split_into_chunks(
        _document(("", paragraphs)), _words, max_tokens=100, overlap_tokens=0
    )
    assert [c.text for c in chunks] == [
        "\n\n".join(paragraphs[0:3]),
        "\n\n".join(paragraphs[3:6]),
    ], "three 30-word paragraphs fit in 100 tokens, with their paragraph breaks kept"


def test_a_paragraph_that_does_not_fit_the_rest_of_a_chunk_starts_the_next_one_whole() -> None:
    paragraphs = [_paragraph(f"p{n}", 4) for n in range(3)]  # 40 words each
    chunks = split_into_chunks(
        _document(("", paragraphs)), _words, max_tokens=100, overlap_tokens=0
    )
    assert [c.text for c in chunks] == ["\n\n".join(paragraphs[:2]), paragraphs[2]], (
        "a paragraph that fits a chunk on its own must not be split"
    )


def test_a_paragraph_longer_than_a_chunk_is_split_between_sentences() -> None:
    paragraph = _paragraph("p", 15)  # 150 words in 10-word sentences
    chunks = split_into_chunks(
        _document(("", [paragraph])), _words, max_tokens=45, overlap_tokens=0
    )
    assert all(c.text.endswith(".") for c in chunks), f"a split fell inside a sentence: {chunks}"
    assert " ".join(c.text for c in chunks) == paragraph, "text lost or repeated"


def test_a_1000_word_single_sentence_paragraph_gives_chunks_within_the_budget() -> None:
    sentence = " ".join(f"w{i}" for i in range(1000))
    document = _document(("A very long heading for one huge sentence", [sentence]))
    chunks = split_into_chunks(document, _words, max_tokens=200, overlap_tokens=32)
    sizes = [_words(c.embedding_text) for c in chunks]
    assert len(chunks) > 5, f"1000 words need several chunks: {sizes}"
    assert max(sizes) <= 200, f"a chunk is over the 200-token budget: {sizes}"
    assert chunks[-1].text.endswith("w999"), "the sentence's end was lost"


def test_no_chunk_is_over_budget_counting_its_heading() -> None:
    heading = " ".join(["heading"] * 30)
    document = _document((heading, [_paragraph(f"p{n}", 3) for n in range(10)]))
    sizes = [_words(c.embedding_text) for c in split_into_chunks(document, _words, max_tokens=64)]
    assert max(sizes) <= 64, f"the heading's 30 tokens were not budgeted: {sizes}"


def test_an_over_long_heading_is_cut_to_half_the_budget_at_a_word() -> None:
    heading = " > ".join(f"level{n}" for n in range(100))
    [chunk] = split_into_chunks(_document((heading, ["body"])), _words, max_tokens=40)
    assert _words(chunk.heading) <= 20, f"heading not cut to half of 40: {chunk.heading!r}"
    assert heading.startswith(chunk.heading), "the heading must be cut, not rewritten"
    assert not chunk.heading.endswith(">"), f"cut left a dangling separator: {chunk.heading!r}"


def test_consecutive_chunks_of_a_section_overlap_by_whole_sentences() -> None:
    paragraph = _paragraph("p", 12)
    chunks = split_into_chunks(
        _document(("", [paragraph])), _words, max_tokens=45, overlap_tokens=12
    )
    assert len(chunks) > 2, chunks
    for before, after in itertools.pairwise(chunks):
        last_sentence = before.text.rsplit(". ", 1)[-1]
        assert after.text.startswith(last_sentence), (
            f"chunk does not start with the previous chunk's last sentence:\n{before}\n{after}"
        )


def test_the_overlap_is_at_most_overlap_tokens_and_whole_sentences() -> None:
    paragraph = _paragraph("p", 30)
    chunks = split_into_chunks(
        _document(("", [paragraph])), _words, max_tokens=60, overlap_tokens=25
    )
    for before, after in itertools.pairwise(chunks):
        before_words, after_words = before.text.split(), after.text.split()
        shared = next(
            n for n in range(len(after_words), -1, -1) if before_words[-n:] == after_words[:n]
        )
        assert shared == 20, f"expected two whole 10-word sentences of overlap, got {shared}"


def test_there_is_no_overlap_across_sections() -> None:
    document = _document(("A", [_paragraph("a", 12)]), ("B", [_paragraph("b", 12)]))
    chunks = split_into_chunks(document, _words, max_tokens=45, overlap_tokens=12)
    first_of_b = next(c for c in chunks if c.heading == "B")
    assert first_of_b.text.startswith("bs0w0"), f"section B starts with A's text: {first_of_b}"


def test_overlap_spans_a_paragraph_break_when_the_last_paragraph_is_short() -> None:
    paragraphs = [_paragraph("p", 3), "Short one.", _paragraph("q", 3)]
    chunks = split_into_chunks(
        _document(("", paragraphs)), _words, max_tokens=45, overlap_tokens=15
    )
    overlap_then_new = chunks[1].text
    assert overlap_then_new.startswith("ps2w0"), (
        f"overlap must reach into the paragraph before: {overlap_then_new!r}"
    )
    assert "\n\nShort one.\n\nqs0w0" in overlap_then_new, (
        f"the overlap must keep the paragraph breaks it crosses: {overlap_then_new!r}"
    )


def test_without_overlap_every_word_appears_exactly_once_in_order() -> None:
    paragraphs = [_paragraph(f"p{n}", n + 1) for n in range(12)]
    document = _document(("", paragraphs))
    chunks = split_into_chunks(document, _words, max_tokens=50, overlap_tokens=0)
    assert _words_in_order(chunks) == " ".join(paragraphs).split(), "words lost or repeated"


def test_a_chunk_whose_joined_text_counts_more_than_its_parts_is_shrunk_to_fit() -> None:
    def paragraph_breaks_cost_five(text: str) -> int:
        return _words(text) + 5 * text.count("\n\n")

    paragraphs = [_paragraph(f"p{n}", 1) for n in range(20)]  # 10 words each
    document = _document(("Heading", paragraphs))
    chunks = split_into_chunks(document, paragraph_breaks_cost_five, max_tokens=50)
    sizes = [paragraph_breaks_cost_five(c.embedding_text) for c in chunks]
    assert max(sizes) <= 50, f"the joined text was not re-checked: {sizes}"


def test_each_piece_of_text_is_counted_a_bounded_number_of_times() -> None:
    calls = 0

    def counting(text: str) -> int:
        nonlocal calls
        calls += 1
        return _words(text)

    paragraphs = [_paragraph(f"p{n}", 8) for n in range(200)]  # 80 words each
    split_into_chunks(_document(("Heading", paragraphs)), counting, max_tokens=60)
    sentences = 200 * 8
    assert calls < 3 * (len(paragraphs) + sentences), f"{calls} count_tokens calls: quadratic?"


@pytest.mark.parametrize(
    ("max_tokens", "overlap_tokens"), [(8, 0), (100, -1), (100, 100), (100, 150)]
)
def test_invalid_budgets_are_rejected(max_tokens: int, overlap_tokens: int) -> None:
    with pytest.raises(ValueError, match="tokens"):
        split_into_chunks(
            _document(("", ["text"])), _words, max_tokens=max_tokens, overlap_tokens=overlap_tokens
        )


def test_the_embedded_text_is_prefixed_with_the_heading() -> None:
    assert TextChunk("Duplicate charges", "Refunded.").embedding_text == (
        "Duplicate charges\nRefunded."
    )
    assert TextChunk("", "Refunded.").embedding_text == "Refunded.", "no heading, no prefix"


@pytest.mark.parametrize("max_tokens", [200, 48])
def test_the_shipped_knowledge_chunks_fit_minilm_by_its_own_token_count(max_tokens: int) -> None:
    count_tokens = default_embedder().count_tokens
    knowledge = ConduitSettings().config_dir / "knowledge"
    for path in sorted(Path(knowledge).glob("*.md")):
        document = parse_document(path.read_text(encoding="utf-8"), "text/markdown")
        chunks = split_into_chunks(document, count_tokens, max_tokens=max_tokens)
        sizes = [count_tokens(c.embedding_text) for c in chunks]
        assert sizes, f"{path.name} produced no chunks"
        assert max(sizes) <= max_tokens, f"{path.name}: chunk token counts {sizes}"
