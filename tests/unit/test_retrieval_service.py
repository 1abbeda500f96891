"""Retrieval service: the step handler over the shipped knowledge, and the document consumer."""

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from services.retrieval.documents import DocumentIngestor
from services.retrieval.index import VectorIndex
from services.retrieval.knowledge import document_events_from_dir
from services.retrieval.service import RetrievalStep, build
from shared.bus import BusMessage, MemoryBus, Topics
from shared.config import ConduitSettings
from shared.contracts import DocumentEvent, StepEvent, UserRequest, new_envelope
from shared.embeddings import default_embedder
from shared.runtime import StepCall, StepError, StepMisconfigured
from shared.runtime.deadletter import REASON
from shared.runtime.raw import RawRunner

KNOWLEDGE = ConduitSettings().config_dir / "knowledge"
TENANT = "acme"


@pytest.fixture(scope="module")
def step(tmp_path_factory: pytest.TempPathFactory) -> RetrievalStep:
    index = VectorIndex(tmp_path_factory.mktemp("retrieval"))
    ingest = DocumentIngestor(index, default_embedder())
    for document in document_events_from_dir(KNOWLEDGE, TENANT):
        ingest.apply(document)
    return RetrievalStep(index, default_embedder())


def _event(text: str, tenant: str = TENANT) -> StepEvent:
    return StepEvent(
        envelope=new_envelope(session_id="s-1", tenant_id=tenant), request=UserRequest(text=text)
    )


def _call(**params: object) -> StepCall:
    return StepCall(workflow="refund", step_id="retrieve_policy", params=params)


async def test_a_duplicate_charge_question_ranks_the_refund_policy_chunk_first(
    step: RetrievalStep,
) -> None:
    event = _event("I was charged twice for invoice INV-1001, can I get the extra charge back?")
    await step(event, _call())
    chunks = list(event.retrieval.chunks)
    assert event.retrieval.query == event.request.text, "the query must be recorded"
    assert len(chunks) == 3, f"default top_k is 3, got {len(chunks)}"
    assert chunks[0].document_id == "refund-policy", f"first chunk: {chunks[0]}"
    assert "charged twice" in chunks[0].text, f"not the duplicate-charge chunk: {chunks[0].text}"
    assert chunks[0].source_id.startswith("refund-policy#"), chunks[0].source_id
    assert chunks[0].title == "Refund policy", chunks[0].title
    scores = [c.score for c in chunks]
    assert scores == sorted(scores, reverse=True), f"chunks must be ranked by score: {scores}"


async def test_top_k_and_min_score_params_limit_the_chunks(step: RetrievalStep) -> None:
    event = _event("How long does the warranty last?")
    await step(event, _call(top_k=1))
    assert [c.document_id for c in event.retrieval.chunks] == ["warranty"], "top_k=1"
    await step(event, _call(min_score=0.99))
    assert list(event.retrieval.chunks) == [], "no chunk scores 0.99"


async def test_an_off_topic_query_finds_nothing_above_the_default_min_score(
    step: RetrievalStep,
) -> None:
    event = _event("Who won the football match last night?")
    await step(event, _call())
    assert list(event.retrieval.chunks) == [], f"got {list(event.retrieval.chunks)}"


async def test_another_tenant_gets_no_chunks(step: RetrievalStep) -> None:
    event = _event("I was charged twice", tenant="globex")
    await step(event, _call())
    assert list(event.retrieval.chunks) == [], "globex must not see acme's knowledge"


async def test_unknown_params_are_a_misconfigured_step(step: RetrievalStep) -> None:
    with pytest.raises(StepMisconfigured, match="top_n"):
        await step(_event("refund"), _call(top_n=3))


async def test_an_unsafe_tenant_id_fails_the_step_permanently(step: RetrievalStep) -> None:
    with pytest.raises(StepError, match="invalid tenant id"):
        await step(_event("refund", tenant="../etc"), _call())


async def _eventually(condition: Callable[[], bool], what: str) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting until {what}")


async def test_a_malformed_document_is_dead_lettered_and_the_next_one_indexed(
    tmp_path: Path,
) -> None:
    settings = ConduitSettings(data_dir=tmp_path)
    topics = Topics(settings.topic_prefix)
    service = build(settings)
    [consumer] = service.raw_consumers
    bus = MemoryBus()
    dead: list[BusMessage] = []

    async def collect(message: BusMessage) -> None:
        dead.append(message)

    bus.subscribe([topics.deadletter], group="collector", handler=collect)
    bus.subscribe(
        [consumer.topic(topics)],
        group="retrieval.documents",
        handler=RawRunner(consumer, service=service.name, bus=bus, settings=settings),
    )
    await bus.start()
    try:
        await bus.publish(topics.documents, b"\xff\xff not a proto", key="acme", headers={})
        good = DocumentEvent(
            tenant_id=TENANT, document_id="faq", title="FAQ", text="Gift cards never expire."
        )
        await bus.publish(topics.documents, good.SerializeToString(), key="acme", headers={})
        await _eventually(lambda: len(dead) == 1, "the malformed document is dead-lettered")
        manifest = tmp_path / "retrieval" / TENANT / "manifest.json"
        await _eventually(manifest.exists, "the valid document after it is indexed")
    finally:
        await bus.stop()
    assert VectorIndex(tmp_path / "retrieval").chunk_count(TENANT) == 1, "faq must be indexed"
    assert dead[0].value == b"\xff\xff not a proto", "the dead letter must keep the raw bytes"
    assert "undecodable" in dead[0].headers[REASON], dead[0].headers


async def test_a_deleted_document_event_removes_the_document(tmp_path: Path) -> None:
    index = VectorIndex(tmp_path)
    ingest = DocumentIngestor(index, default_embedder())
    document = DocumentEvent(tenant_id=TENANT, document_id="faq", text="Gift cards never expire.")
    await ingest(document)
    assert index.chunk_count(TENANT) == 1
    await ingest(DocumentEvent(tenant_id=TENANT, document_id="faq", deleted=True))
    assert index.chunk_count(TENANT) == 0, "a deleted document must leave the index"


def test_knowledge_files_become_document_events() -> None:
    events = document_events_from_dir(KNOWLEDGE, TENANT)
    assert [e.document_id for e in events] == ["refund-policy", "shipping-policy", "warranty"]
    assert [e.title for e in events] == ["Refund policy", "Shipping policy", "Warranty"]
    assert all(e.tenant_id == TENANT and e.content_type == "text/markdown" for e in events)
    assert len({e.version for e in events}) == 3, "versions are content hashes"
    again = document_events_from_dir(KNOWLEDGE, TENANT)
    assert [e.version for e in again] == [e.version for e in events], "hash must be stable"
