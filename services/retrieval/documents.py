"""Keeping the index in step with the document topic: decode, chunk, embed, upsert or delete."""

from __future__ import annotations

import asyncio

from services.retrieval.chunking import split_into_chunks
from services.retrieval.index import ChunkRecord, VectorIndex, check_tenant_id
from shared.contracts import DocumentEvent
from shared.embeddings import MiniLMEmbedder

_CONTENT_TYPES = ("", "text/markdown", "text/plain")


def decode_document(value: bytes) -> DocumentEvent:
    """Parse and validate a `DocumentEvent`; raises on anything the index cannot take."""
    document = DocumentEvent()
    document.ParseFromString(value)
    check_tenant_id(document.tenant_id)
    if not document.document_id:
        raise ValueError("document event has no document_id")
    if document.content_type not in _CONTENT_TYPES:
        raise ValueError(f"unsupported content type {document.content_type!r}")
    return document


class DocumentIngestor:
    """Applies document events to the index; a redelivered or unchanged version is a no-op.

    >>> ingest = DocumentIngestor(index, default_embedder())  # doctest: +SKIP
    >>> await ingest(decode_document(message.value))  # doctest: +SKIP
    """

    def __init__(self, index: VectorIndex, embedder: MiniLMEmbedder) -> None:
        self._index = index
        self._embedder = embedder

    async def __call__(self, document: DocumentEvent) -> None:
        await asyncio.to_thread(self.apply, document)

    def apply(self, document: DocumentEvent) -> None:
        tenant_id, document_id = document.tenant_id, document.document_id
        if document.deleted:
            self._index.delete(tenant_id, document_id)
            return
        if document.version and self._index.document_version(tenant_id, document_id) == (
            document.version
        ):
            return
        chunks = split_into_chunks(document.text, markdown=document.content_type != "text/plain")
        vectors = self._embedder.embed([chunk.embedding_text for chunk in chunks])
        records = [
            ChunkRecord(
                source_id=f"{document_id}#{number}",
                document_id=document_id,
                title=document.title or document_id,
                heading=chunk.heading,
                text=chunk.text,
                version=document.version,
            )
            for number, chunk in enumerate(chunks)
        ]
        self._index.upsert(tenant_id, document_id, records, vectors)
