"""Keeping the store in step with the document topic: decode, parse, chunk, embed, upsert or
delete."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass

from services.retrieval.chunking import split_into_chunks
from services.retrieval.parsing import ParsedDocument, parse_document
from services.retrieval.stores import ChunkRecord, VectorStore, check_tenant_id
from shared.contracts import DocumentEvent
from shared.embeddings import MiniLMEmbedder
from shared.telemetry import tracer

MAX_METADATA_ENTRIES = 32


@dataclass(frozen=True)
class IncomingDocument:
    """A decoded document event, with its text already parsed (None for a deletion)."""

    event: DocumentEvent
    parsed: ParsedDocument | None

    @property
    def version(self) -> str:
        """The publisher's version, else a hash of the content: equal texts, equal versions."""
        if self.event.version:
            return self.event.version
        return hashlib.sha256(self.event.text.encode("utf-8")).hexdigest()[:16]


def decode_document(value: bytes) -> IncomingDocument:
    """Parse and validate a document event; raises, with the reason, on anything the store
    cannot take (the runtime then dead-letters the record)."""
    event = DocumentEvent()
    event.ParseFromString(value)
    check_tenant_id(event.tenant_id)
    if not event.document_id:
        raise ValueError("document event has no document_id")
    if len(event.metadata) > MAX_METADATA_ENTRIES:
        raise ValueError(f"{len(event.metadata)} metadata entries > {MAX_METADATA_ENTRIES}")
    for key in event.metadata:
        if not key or "=" in key:
            raise ValueError(f"invalid metadata key {key!r}: non-empty, without '='")
    if event.deleted:
        return IncomingDocument(event, None)
    return IncomingDocument(event, parse_document(event.text, event.content_type))


class DocumentIngestor:
    """Applies document events to the store; a redelivered or unchanged version is a no-op.

    >>> ingest = DocumentIngestor(store, default_embedder())  # doctest: +SKIP
    >>> await ingest(decode_document(message.value))  # doctest: +SKIP
    """

    def __init__(
        self,
        store: VectorStore,
        embedder: MiniLMEmbedder,
        *,
        chunk_tokens: int = 200,
        overlap_tokens: int = 32,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._chunk_tokens = chunk_tokens
        self._overlap_tokens = overlap_tokens

    async def __call__(self, document: IncomingDocument) -> None:
        event = document.event
        tenant_id, document_id = event.tenant_id, event.document_id
        with tracer().start_as_current_span(
            "ingest document",
            attributes={
                "db.system": self._store.name,
                "conduit.tenant_id": tenant_id,
                "conduit.document_id": document_id,
                "conduit.document.deleted": event.deleted,
            },
        ) as span:
            if document.parsed is None:
                await self._store.delete(tenant_id, document_id)
                return
            version = document.version
            if await self._store.document_version(tenant_id, document_id) == version:
                span.set_attribute("conduit.document.unchanged", value=True)
                return
            records, texts = await asyncio.to_thread(self._chunk, document.parsed, event, version)
            vectors = await asyncio.to_thread(self._embedder.embed, texts)
            span.set_attribute("conduit.document.chunks", len(records))
            await self._store.upsert(tenant_id, document_id, records, vectors)

    def _chunk(
        self, parsed: ParsedDocument, event: DocumentEvent, version: str
    ) -> tuple[list[ChunkRecord], list[str]]:
        chunks = split_into_chunks(
            parsed,
            self._embedder.count_tokens,
            max_tokens=self._chunk_tokens,
            overlap_tokens=self._overlap_tokens,
        )
        title = event.title or parsed.title or event.document_id
        records = [
            ChunkRecord(
                source_id=f"{event.document_id}#{number}",
                document_id=event.document_id,
                title=title,
                heading=chunk.heading,
                text=chunk.text,
                version=version,
                metadata=dict(event.metadata),
            )
            for number, chunk in enumerate(chunks)
        ]
        return records, [chunk.embedding_text for chunk in chunks]
