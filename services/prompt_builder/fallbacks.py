"""The template's own answer: rendered from the request's tool results and sources, for
the output guardrail to deliver when the model's answers keep failing their checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from services.prompt_builder.templates import SOURCE_SLOT, AnswerSpec, Fallback
from shared.agent import placeholders, render_slots, result_fields
from shared.contracts import Chunk, RetrievalResult, ToolExchange
from shared.text.sentences import sentences

EXCERPT_SENTENCES = 2
TITLE, EXCERPT, PASSAGE = (f"{SOURCE_SLOT}.{name}" for name in ("title", "excerpt", "passage"))


@dataclass(frozen=True)
class FallbackAnswer:
    text: str
    sources: list[str]


def excerpt(text: str, count: int = EXCERPT_SENTENCES) -> str:
    """The first sentences of a chunk's text, without its heading lines."""
    return " ".join(sentences(text)[:count])


def request_results(exchanges: Sequence[ToolExchange]) -> dict[str, object]:
    """Every field of the request's successful tool results, by `tool.field`."""
    return {f"{tool}.{path}": value for tool, path, value in result_fields(exchanges)}


def fallback_answer(
    answer: AnswerSpec,
    exchanges: Sequence[ToolExchange],
    retrieval: RetrievalResult,
    slots: Mapping[str, str],
) -> FallbackAnswer | None:
    """The first of the template's fallbacks that fits this request, rendered."""
    results = request_results(exchanges)
    for fallback in answer.fallbacks:
        rendered = _render(fallback, results, retrieval, slots)
        if rendered is not None:
            return rendered
    return None


def _render(
    fallback: Fallback,
    results: Mapping[str, object],
    retrieval: RetrievalResult,
    slots: Mapping[str, str],
) -> FallbackAnswer | None:
    missing = object()
    if any(results.get(key, missing) != value for key, value in fallback.when.items()):
        return None
    best_first = sorted(retrieval.chunks, key=lambda chunk: -chunk.score)
    # The chunks it may cite: of the documents it names, or any for `{source.*}` alone.
    cited = [c for c in best_first if not fallback.cite or c.document_id in fallback.cite]
    if not {c.document_id for c in cited} >= set(fallback.cite):
        return None
    names = placeholders(fallback.text)
    source = _source_chunk(cited, retrieval, quotes_passage=PASSAGE in names)
    values = dict(slots)
    quoted: list[tuple[str, str]] = []
    if source is not None:
        values[TITLE] = source.title
        values[EXCERPT] = excerpt(source.text)
        if source.source_id == retrieval.answer_source:
            quoted = _quoted_passages(retrieval)
            values[PASSAGE] = " ".join(passage for passage, _ in quoted)
    if any(name not in values for name in names):
        return None
    if source is not None and any(name.startswith(f"{SOURCE_SLOT}.") for name in names):
        sources = [source.source_id]
        if PASSAGE in names:
            sources = list(dict.fromkeys(source_id for _, source_id in quoted))
    else:
        sources = [chunk.source_id for chunk in cited] if fallback.cite else []
    return FallbackAnswer(render_slots(fallback.text, values), sources)


def _quoted_passages(retrieval: RetrievalResult) -> list[tuple[str, str]]:
    """(passage, source id) of the answer passage, and of the second one where it is of the
    same document: a question the best sentences miss is often answered a section further
    on (on our tuning set, tests/data/passage_tuning.yaml, the best passage held the answer
    for 22 questions of 24, the two for 24). Another document's passage is not quoted: it
    is about something else than was asked."""
    quoted = [(retrieval.answer_passage, retrieval.answer_source)]
    documents = {chunk.source_id: chunk.document_id for chunk in retrieval.chunks}
    second_document = documents.get(retrieval.second_source)
    if retrieval.second_passage and second_document == documents.get(retrieval.answer_source):
        quoted.append((retrieval.second_passage, retrieval.second_source))
    return quoted


def _source_chunk(
    cited: Sequence[Chunk], retrieval: RetrievalResult, *, quotes_passage: bool
) -> Chunk | None:
    """The chunk `{source.*}` reads: the answer passage's, or the best one."""
    if quotes_passage:
        return next((c for c in cited if c.source_id == retrieval.answer_source), None)
    return cited[0] if cited else None
