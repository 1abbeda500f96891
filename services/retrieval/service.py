"""The retrieval step: find the tenant's knowledge chunks nearest to `event.request.text`."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.retrieval.documents import DocumentIngestor, decode_document
from services.retrieval.index import SearchHit, VectorIndex, check_tenant_id
from shared.config import ConduitSettings
from shared.contracts import Chunk, DocumentEvent, RetrievalResult, StepEvent
from shared.embeddings import Embedder, default_embedder, default_query_embedder
from shared.runtime import RawConsumer, StepCall, StepError, StepMisconfigured, StepService
from shared.telemetry import tracer


class RetrievalParams(BaseModel):
    """The step's `params` in a workflow, e.g. `params: {top_k: 3, min_score: 0.2}`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    top_k: int = Field(default=3, ge=1, le=50)
    min_score: float = Field(default=0.2, ge=-1.0, le=1.0)

    @classmethod
    def of(cls, call: StepCall) -> RetrievalParams:
        try:
            return cls.model_validate(dict(call.params))
        except ValidationError as exc:
            raise StepMisconfigured(
                f"step {call.workflow}.{call.step_id}: invalid retrieval params: {exc}"
            ) from exc


class RetrievalStep:
    """Step handler filling `event.retrieval` with chunks ranked by cosine, best first.

    >>> step = RetrievalStep(index, default_query_embedder())  # doctest: +SKIP
    >>> await step(event, StepCall(workflow="refund", step_id="retrieve_policy"))  # doctest: +SKIP
    """

    def __init__(self, index: VectorIndex, embedder: Embedder) -> None:
        self._index = index
        self._embedder = embedder

    async def __call__(self, event: StepEvent, call: StepCall) -> None:
        params = RetrievalParams.of(call)
        tenant_id = event.envelope.tenant_id
        try:
            check_tenant_id(tenant_id)
        except ValueError as exc:
            raise StepError(str(exc)) from exc
        query = event.request.text
        with tracer().start_as_current_span(
            "retrieve",
            attributes={
                "db.system": "conduit-embedded-index",
                "conduit.retrieval.top_k": params.top_k,
            },
        ) as span:
            hits = await asyncio.to_thread(self._search, tenant_id, query, params) if query else []
            span.set_attributes(
                {
                    "conduit.retrieval.hits": len(hits),
                    "conduit.retrieval.scores": [round(hit.score, 4) for hit in hits],
                    "conduit.retrieval.sources": [hit.record.source_id for hit in hits],
                }
            )
        event.retrieval.CopyFrom(
            RetrievalResult(
                query=query,
                chunks=[
                    Chunk(
                        source_id=hit.record.source_id,
                        document_id=hit.record.document_id,
                        text=hit.record.text,
                        score=hit.score,
                        title=hit.record.title,
                    )
                    for hit in hits
                ],
            )
        )

    def _search(self, tenant_id: str, query: str, params: RetrievalParams) -> list[SearchHit]:
        [vector] = self._embedder.embed([query])
        return self._index.search(tenant_id, vector, top_k=params.top_k, min_score=params.min_score)


def build(settings: ConduitSettings) -> StepService:
    embedder = default_embedder()
    index = VectorIndex(settings.data_dir / "retrieval", dimension=embedder.dimension)
    documents: RawConsumer[DocumentEvent] = RawConsumer(
        name="documents",
        topic=lambda topics: topics.documents,
        decode=decode_document,
        handle=DocumentIngestor(index, embedder),
    )
    return StepService(
        name="retrieval",
        handle=RetrievalStep(index, default_query_embedder()),
        warm_up=embedder.warm_up,
        raw_consumers=(documents,),
    )
