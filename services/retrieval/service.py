"""The retrieval step: find the tenant's knowledge chunks for `event.request.text`.

The store is the embedded index or Weaviate (`CONDUIT_RETRIEVAL_STORE`); the same process
can also apply the document topic, or only one of the two (`CONDUIT_RETRIEVAL_ROLES`).
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.retrieval.documents import DocumentIngestor, IncomingDocument, decode_document
from services.retrieval.passages import answer_passages
from services.retrieval.settings import RetrievalSettings
from services.retrieval.stores import (
    EmbeddedStore,
    MetadataFilter,
    SearchHit,
    SearchMode,
    SearchQuery,
    StoreUnavailableError,
    UnknownTenantError,
    VectorStore,
    WeaviateStore,
    check_tenant_id,
)
from shared.config import ConduitSettings
from shared.contracts import Chunk, RetrievalResult, StepEvent
from shared.embeddings import Embedder, default_embedder, default_query_embedder
from shared.injection import InjectionScreen
from shared.runtime import (
    DependencyUnavailable,
    InputRejected,
    RawConsumer,
    StepCall,
    StepError,
    StepMisconfigured,
    StepService,
    UnknownTenant,
)
from shared.telemetry import tracer


class FilterParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    document_ids: tuple[str, ...] = ()
    metadata: dict[str, str] = Field(default_factory=dict)


class RetrievalParams(BaseModel):
    """The step's `params` in a workflow, e.g. `params: {top_k: 3, mode: hybrid, alpha: 0.5}`.

    `min_score` is the lowest cosine similarity a chunk may have to the question to be
    found by its meaning; keyword matches (BM25) are found regardless.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    top_k: int = Field(default=3, ge=1, le=50)
    min_score: float = Field(default=0.2, ge=-1.0, le=1.0)
    mode: SearchMode = "hybrid"
    alpha: float = Field(default=0.5, ge=0.0, le=1.0)
    filters: FilterParams = Field(default_factory=FilterParams)
    # Also pick the retrieved passage closest to the question (`RetrievalResult.answer_passage`).
    answer_passage: bool = False

    @classmethod
    def of(cls, call: StepCall) -> RetrievalParams:
        try:
            return cls.model_validate(dict(call.params))
        except ValidationError as exc:
            raise StepMisconfigured(
                f"step {call.workflow}.{call.step_id}: invalid retrieval params: {exc}"
            ) from exc


class RetrievalStep:
    """Step handler filling `event.retrieval` with the best chunks, best first; with a
    `screen`, chunks carrying prompt injection are dropped, stripped or flagged first.

    >>> step = RetrievalStep(store, default_query_embedder(), screen)  # doctest: +SKIP
    >>> await step(event, StepCall(workflow="refund", step_id="retrieve_policy"))  # doctest: +SKIP
    """

    def __init__(
        self, store: VectorStore, embedder: Embedder, screen: InjectionScreen | None = None
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._screen = screen

    async def __call__(self, event: StepEvent, call: StepCall) -> None:
        params = RetrievalParams.of(call)
        tenant_id = event.envelope.tenant_id
        try:
            check_tenant_id(tenant_id)
        except ValueError as exc:
            raise StepError(str(exc)) from exc
        text = event.request.text
        if not text.strip():
            raise InputRejected("nothing to search for: the request has no text")
        with tracer().start_as_current_span(
            "retrieve",
            attributes={
                "db.system": self._store.name,
                "conduit.retrieval.top_k": params.top_k,
                "conduit.retrieval.mode": params.mode,
                "conduit.retrieval.alpha": params.alpha,
            },
        ) as span:
            hits = await self._search(tenant_id, text, params)
            span.set_attributes(
                {
                    "conduit.retrieval.hits": len(hits),
                    "conduit.retrieval.scores": [round(hit.score, 4) for hit in hits],
                    "conduit.retrieval.sources": [hit.record.source_id for hit in hits],
                }
            )
        chunks = [
            Chunk(
                source_id=hit.record.source_id,
                document_id=hit.record.document_id,
                text=hit.record.text,
                score=hit.score,
                title=hit.record.title,
                heading=hit.record.heading,
                version=hit.record.version,
            )
            for hit in hits
        ]
        event.retrieval.CopyFrom(
            RetrievalResult(
                query=text,
                store=self._store.name,
                mode=params.mode,
                chunks=await self._screened(chunks, event),
            )
        )
        if params.answer_passage:
            passages = await asyncio.to_thread(
                answer_passages, text, event.retrieval.chunks, self._embedder
            )
            if passages:
                event.retrieval.answer_passage, event.retrieval.answer_source = passages[0]
            if len(passages) > 1:
                event.retrieval.second_passage, event.retrieval.second_source = passages[1]

    async def _screened(self, chunks: list[Chunk], event: StepEvent) -> list[Chunk]:
        """Knowledge text is screened here, once per request, so the prompt, the answer's
        allowed sources and the output checks all see the same chunks. The findings go on
        the input guardrail's report: the event has no retrieval findings of its own."""
        if self._screen is None or not chunks:
            return chunks
        with tracer().start_as_current_span("screen chunks") as span:
            kept, findings = await asyncio.to_thread(self._screen.chunks, chunks)
            span.set_attribute("conduit.retrieval.injection_findings", findings)
        event.input_guard.findings.extend(findings)
        return kept

    async def _search(self, tenant_id: str, text: str, params: RetrievalParams) -> list[SearchHit]:
        [vector] = await asyncio.to_thread(self._embedder.embed, [text])
        query = SearchQuery(
            text=text,
            vector=vector,
            top_k=params.top_k,
            mode=params.mode,
            alpha=params.alpha,
            min_similarity=params.min_score,
            filters=MetadataFilter(
                document_ids=params.filters.document_ids, metadata=params.filters.metadata
            ),
        )
        try:
            return await self._store.search(tenant_id, query)
        except UnknownTenantError as exc:
            raise UnknownTenant(str(exc)) from exc
        except StoreUnavailableError as exc:
            raise DependencyUnavailable(str(exc)) from exc


def open_store(settings: ConduitSettings, retrieval: RetrievalSettings) -> VectorStore:
    """The store the settings name; not yet started."""
    if retrieval.store == "weaviate":
        return WeaviateStore(
            http_host=retrieval.weaviate_host,
            http_port=retrieval.weaviate_http_port,
            grpc_port=retrieval.weaviate_grpc_port,
            collection=retrieval.weaviate_collection,
            timeout_s=retrieval.weaviate_timeout_s,
        )
    return EmbeddedStore(settings.data_dir / "retrieval", dimension=default_embedder().dimension)


def build(settings: ConduitSettings) -> StepService:
    retrieval = RetrievalSettings()
    store = open_store(settings, retrieval)
    embedder = default_embedder()
    screen = InjectionScreen.from_config(settings.config_dir)

    def warm_up() -> None:
        embedder.warm_up()
        screen.warm_up()

    documents: RawConsumer[IncomingDocument] = RawConsumer(
        name="documents",
        topic=lambda topics: topics.documents,
        decode=decode_document,
        handle=DocumentIngestor(
            store,
            embedder,
            chunk_tokens=retrieval.chunk_tokens,
            overlap_tokens=retrieval.chunk_overlap_tokens,
        ),
    )
    return StepService(
        name="retrieval",
        handle=RetrievalStep(store, default_query_embedder(), screen),
        warm_up=warm_up,
        open=store.start,
        close=store.close,
        serves_steps="query" in retrieval.roles,
        raw_consumers=(documents,) if "ingest" in retrieval.roles else (),
    )
