"""Retrieval service: the step handler over the shipped knowledge, and the document consumer."""

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from services.retrieval.documents import DocumentIngestor, IncomingDocument, decode_document
from services.retrieval.knowledge import document_events_from_dir
from services.retrieval.service import RetrievalStep, build
from services.retrieval.stores import EmbeddedStore, StoreUnavailableError, UnknownTenantError
from services.retrieval.stores.base import SearchHit, SearchQuery
from shared.bus import BusMessage, MemoryBus, Topics
from shared.config import ConduitSettings
from shared.contracts import DocumentEvent, StepEvent, UserRequest, new_envelope
from shared.embeddings import default_embedder
from shared.runtime import (
    DependencyUnavailable,
    InputRejected,
    StepCall,
    StepError,
    StepMisconfigured,
    UnknownTenant,
)
from shared.runtime.deadletter import REASON
from shared.runtime.raw import RawRunner

KNOWLEDGE = ConduitSettings().config_dir / "knowledge"
TENANT = "acme"


def _incoming(document: DocumentEvent) -> IncomingDocument:
    return decode_document(document.SerializeToString())


@pytest.fixture(scope="module")
def knowledge_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped knowledge base, ingested once for the module."""
    root = tmp_path_factory.mktemp("retrieval")

    async def ingest_all() -> None:
        ingest = DocumentIngestor(EmbeddedStore(root), default_embedder())
        for document in document_events_from_dir(KNOWLEDGE, TENANT):
            await ingest(_incoming(document))

    asyncio.run(ingest_all())
    return root


@pytest.fixture
def step(knowledge_dir: Path) -> RetrievalStep:
    return RetrievalStep(EmbeddedStore(knowledge_dir), default_embedder())


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
    assert list(event.retrieval.chunks) == [], "no chunk is that similar, keywords or not"


@pytest.mark.parametrize("mode", ["vector", "bm25", "hybrid"])
async def test_each_search_mode_finds_the_warranty_and_says_how(
    step: RetrievalStep, mode: str
) -> None:
    event = _event("How long does the warranty last?")
    await step(event, _call(mode=mode, top_k=1))
    assert [c.document_id for c in event.retrieval.chunks] == ["warranty"], mode
    assert (event.retrieval.mode, event.retrieval.store) == (mode, "embedded")
    [chunk] = event.retrieval.chunks
    assert chunk.version, f"version missing: {chunk}"
    assert chunk.heading, f"heading missing: {chunk}"


async def test_filters_limit_the_documents_searched(step: RetrievalStep) -> None:
    event = _event("How long does the warranty last?")
    await step(event, _call(filters={"document_ids": ["shipping-policy"]}, min_score=-1))
    assert {c.document_id for c in event.retrieval.chunks} == {"shipping-policy"}


async def test_an_off_topic_query_finds_nothing_above_the_default_min_score(
    step: RetrievalStep,
) -> None:
    event = _event("Who won the football match last night?")
    await step(event, _call())
    assert list(event.retrieval.chunks) == [], f"got {list(event.retrieval.chunks)}"


async def test_a_tenant_without_knowledge_is_an_unknown_tenant(step: RetrievalStep) -> None:
    with pytest.raises(UnknownTenant, match="globex"):
        await step(_event("I was charged twice", tenant="globex"), _call())


async def test_a_store_that_is_down_is_a_dependency_to_retry() -> None:
    class DownStore(EmbeddedStore):
        async def search(self, tenant_id: str, query: SearchQuery) -> list[SearchHit]:
            raise StoreUnavailableError("connection refused")

    step = RetrievalStep(DownStore(Path("/nonexistent")), default_embedder())
    with pytest.raises(DependencyUnavailable, match="connection refused"):
        await step(_event("refund"), _call())


async def test_a_request_without_text_is_rejected(step: RetrievalStep) -> None:
    with pytest.raises(InputRejected, match="no text"):
        await step(_event("  "), _call())


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
    version = await EmbeddedStore(tmp_path / "retrieval").document_version(TENANT, "faq")
    assert version is not None, "faq must be indexed"
    assert dead[0].value == b"\xff\xff not a proto", "the dead letter must keep the raw bytes"
    assert "undecodable" in dead[0].headers[REASON], dead[0].headers


async def test_a_deleted_document_event_removes_the_document(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path)
    ingest = DocumentIngestor(store, default_embedder())
    document = DocumentEvent(tenant_id=TENANT, document_id="faq", text="Gift cards never expire.")
    await ingest(_incoming(document))
    assert await store.document_version(TENANT, "faq") is not None
    await ingest(_incoming(DocumentEvent(tenant_id=TENANT, document_id="faq", deleted=True)))
    assert await store.document_version(TENANT, "faq") is None, "the document must be gone"


async def test_an_unchanged_version_is_not_embedded_again(tmp_path: Path) -> None:
    class CountingStore(EmbeddedStore):
        upserts = 0

        async def upsert(self, *args: object, **kwargs: object) -> None:
            type(self).upserts += 1
            await super().upsert(*args, **kwargs)  # type: ignore[arg-type]

    ingest = DocumentIngestor(CountingStore(tmp_path), default_embedder())
    document = DocumentEvent(tenant_id=TENANT, document_id="faq", text="Gift cards never expire.")
    await ingest(_incoming(document))
    await ingest(_incoming(document))
    assert CountingStore.upserts == 1, "a redelivered document was written again"


async def test_metadata_travels_from_the_event_to_the_stored_chunks(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path)
    document = DocumentEvent(
        tenant_id=TENANT, document_id="faq", text="Gift cards never expire.",
        metadata={"product": "gift-card"},
    )  # fmt: skip
    await DocumentIngestor(store, default_embedder())(_incoming(document))
    snapshot = store._index.snapshot(TENANT)
    assert snapshot is not None
    assert [dict(r.metadata) for r in snapshot.records] == [{"product": "gift-card"}]


def _doc(**fields: Any) -> DocumentEvent:
    return DocumentEvent(**{"tenant_id": TENANT, "document_id": "d", "text": "x", **fields})


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (_doc(document_id=""), "document_id"),
        (_doc(text="   "), "empty"),
        (_doc(content_type="application/pdf"), "content type"),
        (_doc(metadata={"a=b": "c"}), "metadata key"),
        (_doc(tenant_id="../x"), "tenant"),
    ],
)
def test_a_document_the_store_cannot_take_is_refused_with_the_reason(
    document: DocumentEvent, reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        decode_document(document.SerializeToString())


def test_searching_an_unknown_tenant_directly_raises(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path)
    query = SearchQuery(text="x", vector=default_embedder().embed(["x"])[0], top_k=1)
    with pytest.raises(UnknownTenantError):
        store.search_now("nobody", query)


def test_knowledge_files_become_document_events() -> None:
    events = document_events_from_dir(KNOWLEDGE, TENANT)
    assert [e.document_id for e in events] == ["refund-policy", "shipping-policy", "warranty"]
    assert [e.title for e in events] == ["Refund policy", "Shipping policy", "Warranty"]
    assert all(e.tenant_id == TENANT and e.content_type == "text/markdown" for e in events)
    assert len({e.version for e in events}) == 3, "versions are content hashes"
    again = document_events_from_dir(KNOWLEDGE, TENANT)
    assert [e.version for e in again] == [e.version for e in events], "hash must be stable"
