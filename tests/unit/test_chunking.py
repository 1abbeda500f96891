"""Chunking: paragraph-aligned chunks of roughly 60-120 words under their nearest heading."""

from pathlib import Path

from services.retrieval.chunking import TextChunk, first_heading, split_into_chunks
from shared.config import ConduitSettings


def _paragraph(label: str, words: int) -> str:
    return " ".join(f"{label}{i}" for i in range(words))


def test_chunks_never_span_a_heading_and_carry_the_nearest_one() -> None:
    text = (
        f"# Policy\n\n{_paragraph('a', 70)}\n\n## Refunds\n\n{_paragraph('b', 70)}\n\n"
        f"### Timing\n\n{_paragraph('c', 70)}"
    )
    chunks = split_into_chunks(text)
    assert [c.heading for c in chunks] == ["Policy", "Refunds", "Timing"], chunks
    assert all(len({w[0] for w in c.text.split()}) == 1 for c in chunks), "a chunk mixed sections"


def test_short_paragraphs_are_packed_up_to_the_word_limit() -> None:
    text = "\n\n".join(_paragraph(f"p{n}x", 25) for n in range(10))
    sizes = [len(c.text.split()) for c in split_into_chunks(text)]
    assert sum(sizes) == 250, f"words lost or duplicated: {sizes}"
    assert all(60 <= s <= 120 for s in sizes[:-1]), f"chunk sizes out of range: {sizes}"
    assert sizes[-1] <= 120, f"last chunk too large: {sizes}"


def test_paragraph_boundaries_are_kept_inside_a_chunk() -> None:
    text = f"{_paragraph('a', 30)}\n\n{_paragraph('b', 30)}"
    [chunk] = split_into_chunks(text)
    assert chunk.text == f"{_paragraph('a', 30)}\n\n{_paragraph('b', 30)}", chunk.text


def test_a_paragraph_longer_than_the_limit_is_split_at_sentences() -> None:
    sentence = " ".join(["word"] * 19) + " end."
    text = " ".join([sentence] * 15)  # one 300-word paragraph of 20-word sentences
    chunks = split_into_chunks(text)
    sizes = [len(c.text.split()) for c in chunks]
    assert sum(sizes) == 300, f"words lost or duplicated: {sizes}"
    assert max(sizes) <= 120, f"a chunk is over the limit: {sizes}"
    assert all(c.text.endswith("end.") for c in chunks), "a split must fall between sentences"


def test_a_tiny_chunk_takes_the_next_paragraph_even_past_the_limit() -> None:
    text = f"{_paragraph('a', 10)}\n\n{_paragraph('b', 115)}"
    assert len(split_into_chunks(text)) == 1, "a 10-word chunk must not stand alone"


def test_plain_text_hash_lines_are_not_headings() -> None:
    [chunk] = split_into_chunks("# not a heading\n\nbody text", markdown=False)
    assert chunk.heading == "", "plain text has no headings"
    assert chunk.text.startswith("# not a heading"), chunk.text


def test_the_embedded_text_is_prefixed_with_the_heading() -> None:
    assert TextChunk("Duplicate charges", "Refunded.").embedding_text == (
        "Duplicate charges\nRefunded."
    )
    assert TextChunk("", "Refunded.").embedding_text == "Refunded.", "no heading, no prefix"


def test_first_heading_is_the_document_title() -> None:
    assert first_heading("intro\n\n# Refund policy\n\n## Duplicate charges") == "Refund policy"
    assert first_heading("no headings here") is None


def test_the_shipped_knowledge_chunks_stay_within_about_120_words() -> None:
    knowledge = ConduitSettings().config_dir / "knowledge"
    for path in sorted(Path(knowledge).glob("*.md")):
        sizes = [len(c.text.split()) for c in split_into_chunks(path.read_text())]
        assert sizes, f"{path.name} produced no chunks"
        assert max(sizes) <= 120, f"{path.name}: chunk sizes {sizes}"
