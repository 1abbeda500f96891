"""The Weaviate store: chunks in a multi-tenant collection, one Weaviate tenant per tenant.

Weaviate has no transactions, so a document's versions are made atomic here. Chunks are
written under ids derived from (document, chunk number, version); then the document's
entry in a second collection, the registry, is pointed at the new version: that write is
the commit point. Searches keep only chunks of each document's committed version, so a
version being written, or one left half-written by a crash, is never seen. Chunks of other
versions are deleted after the commit (and again by the next write of the document).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
import weaviate
from weaviate.classes.config import (
    Configure,
    DataType,
    Property,
    Tokenization,
    VectorDistances,
)
from weaviate.classes.init import AdditionalConfig, Timeout
from weaviate.classes.query import Filter, MetadataQuery
from weaviate.classes.tenants import Tenant
from weaviate.collections import CollectionAsync
from weaviate.collections.classes.internal import Object
from weaviate.collections.classes.types import Properties
from weaviate.exceptions import (
    WeaviateBaseError,
    WeaviateConnectionError,
    WeaviateGRPCUnavailableError,
    WeaviateQueryError,
    WeaviateTimeoutError,
)

from services.retrieval.stores.base import (
    F32,
    ChunkRecord,
    MetadataFilter,
    SearchHit,
    SearchQuery,
    StoreUnavailableError,
    UnknownTenantError,
    check_tenant_id,
)

T = TypeVar("T")
_Collection = CollectionAsync[Mapping[str, Any], None]

_NAMESPACE = uuid.UUID("5b0c6b53-54a1-4c41-a0a4-0c2b3f6d3a91")
# Extra results asked for, to make up for chunks dropped as uncommitted or stale.
_OVERFETCH = 10
_SEARCHED = ["title", "heading", "text"]
_UNAVAILABLE = (
    WeaviateConnectionError,
    WeaviateTimeoutError,
    WeaviateGRPCUnavailableError,
    OSError,
)


def _field(name: str, data_type: DataType = DataType.TEXT) -> Property:
    """An exact-match property: filterable, not part of keyword search."""
    return Property(
        name=name,
        data_type=data_type,
        tokenization=Tokenization.FIELD if data_type != DataType.INT else None,
        index_searchable=False,
        index_filterable=True,
    )


def _words(name: str) -> Property:
    """A property keyword search reads, tokenised into lower-cased words."""
    return Property(name=name, data_type=DataType.TEXT, tokenization=Tokenization.WORD)


class WeaviateStore:
    """`VectorStore` on a Weaviate server (HTTP for schema and writes, gRPC for queries).

    >>> store = WeaviateStore(http_host="db", http_port=8080, grpc_port=50051)  # doctest: +SKIP
    >>> await store.start()  # doctest: +SKIP
    >>> await store.search("acme", SearchQuery("refund window", vector, top_k=3))  # doctest: +SKIP
    """

    name = "weaviate"

    def __init__(
        self,
        *,
        http_host: str,
        http_port: int,
        grpc_port: int,
        grpc_host: str | None = None,
        collection: str = "ConduitChunk",
        timeout_s: float = 10.0,
    ) -> None:
        self._client = weaviate.use_async_with_custom(
            http_host=http_host,
            http_port=http_port,
            http_secure=False,
            grpc_host=grpc_host or http_host,
            grpc_port=grpc_port,
            grpc_secure=False,
            additional_config=AdditionalConfig(
                timeout=Timeout(init=timeout_s, query=timeout_s, insert=timeout_s)
            ),
            skip_init_checks=True,  # the checks reach out to the internet
        )
        self._chunks_name = collection
        self._registry_name = f"{collection}Document"
        self._tenants: set[str] = set()

    async def start(self) -> None:
        await self._call(self._client.connect())
        for name, properties in (
            (
                self._chunks_name,
                [
                    _field("source_id"),
                    _field("document_id"),
                    _field("version"),
                    _field("chunk_number", DataType.INT),
                    _field("tags", DataType.TEXT_ARRAY),
                    _words("title"),
                    _words("heading"),
                    _words("text"),
                ],
            ),
            (self._registry_name, [_field("document_id"), _field("version")]),
        ):
            if not await self._call(self._client.collections.exists(name)):
                await self._create(name, properties)

    async def close(self) -> None:
        await self._client.close()

    async def upsert(
        self, tenant_id: str, document_id: str, records: Sequence[ChunkRecord], vectors: F32
    ) -> None:
        if vectors.shape[0] != len(records):
            raise ValueError(f"{len(records)} records but {vectors.shape[0]} vectors")
        versions = {r.version for r in records}
        if len(versions) > 1:
            raise ValueError(f"records of one document span versions {sorted(versions)}")
        if {r.document_id for r in records} - {document_id}:
            raise ValueError(f"records of other documents upserted as {document_id!r}")
        version = versions.pop() if versions else ""
        await self._ensure_tenant(tenant_id)
        await self._write_chunks(tenant_id, document_id, version, records, vectors)
        await self._commit(tenant_id, document_id, version)
        await self._delete_chunks(tenant_id, document_id, except_version=version)

    async def _write_chunks(
        self,
        tenant_id: str,
        document_id: str,
        version: str,
        records: Sequence[ChunkRecord],
        vectors: F32,
    ) -> None:
        chunks, _ = self._collections(tenant_id)
        objects = [
            weaviate.classes.data.DataObject(
                properties=_properties(record, number),
                uuid=_chunk_id(document_id, number, version),
                vector=vector.tolist(),
            )
            for number, (record, vector) in enumerate(zip(records, vectors, strict=True))
        ]
        if objects:
            _raise_on_errors(await self._call(chunks.data.insert_many(objects)))

    async def _commit(self, tenant_id: str, document_id: str, version: str) -> None:
        """Point the registry at `version`: from now on searches see it, and only it."""
        _, registry = self._collections(tenant_id)
        entry = weaviate.classes.data.DataObject(
            properties={"document_id": document_id, "version": version},
            uuid=_document_id(document_id),
        )
        _raise_on_errors(await self._call(registry.data.insert_many([entry])))

    async def delete(self, tenant_id: str, document_id: str) -> bool:
        if tenant_id not in self._tenants and not await self._tenant_exists(tenant_id):
            return False
        _, registry = self._collections(tenant_id)
        existed = await self.document_version(tenant_id, document_id) is not None
        if existed:
            await self._call(registry.data.delete_by_id(_document_id(document_id)))
        await self._delete_chunks(tenant_id, document_id, except_version=None)
        return existed

    async def document_version(self, tenant_id: str, document_id: str) -> str | None:
        if tenant_id not in self._tenants and not await self._tenant_exists(tenant_id):
            return None
        _, registry = self._collections(tenant_id)
        found = await self._call(registry.query.fetch_object_by_id(_document_id(document_id)))
        return None if found is None else str(found.properties["version"])

    async def search(self, tenant_id: str, query: SearchQuery) -> list[SearchHit]:
        chunks, _ = self._collections(tenant_id)
        limit = query.top_k + _OVERFETCH
        where = _where(query.filters)
        metadata = MetadataQuery(distance=True, score=True)
        floor = None if query.min_similarity <= -1 else 1 - query.min_similarity
        # Keyword candidates carry no distance: their vectors come back to be checked here.
        check_vectors = floor is not None and query.mode != "vector"
        try:
            if query.mode == "vector":
                found = await self._call(
                    chunks.query.near_vector(
                        query.vector.tolist(),
                        limit=limit,
                        distance=floor,
                        filters=where,
                        return_metadata=metadata,
                    )
                )
            elif query.mode == "bm25":
                found = await self._call(
                    chunks.query.bm25(
                        query.text,
                        query_properties=_SEARCHED,
                        limit=limit,
                        filters=where,
                        include_vector=check_vectors,
                        return_metadata=metadata,
                    )
                )
            else:
                found = await self._call(
                    chunks.query.hybrid(
                        query.text,
                        vector=query.vector.tolist(),
                        alpha=query.alpha,
                        query_properties=_SEARCHED,
                        max_vector_distance=floor,
                        limit=limit,
                        filters=where,
                        include_vector=check_vectors,
                        return_metadata=metadata,
                    )
                )
        except WeaviateQueryError as exc:
            if "tenant not found" in str(exc).lower():
                raise UnknownTenantError(
                    f"no documents were ever stored for tenant {tenant_id!r}"
                ) from exc
            raise
        committed = await self._committed_versions(
            tenant_id, {str(o.properties["document_id"]) for o in found.objects}
        )
        hits = [
            SearchHit(_record(o), _score(o, query))
            for o in found.objects
            if committed.get(str(o.properties["document_id"])) == o.properties["version"]
            and (not check_vectors or _similarity(o, query.vector) >= query.min_similarity)
        ]
        return hits[: query.top_k]

    async def _committed_versions(self, tenant_id: str, document_ids: set[str]) -> dict[str, str]:
        if not document_ids:
            return {}
        _, registry = self._collections(tenant_id)
        found = await self._call(
            registry.query.fetch_objects(
                filters=Filter.by_property("document_id").contains_any(sorted(document_ids)),
                limit=len(document_ids),
            )
        )
        return {
            str(o.properties["document_id"]): str(o.properties["version"]) for o in found.objects
        }

    async def _delete_chunks(
        self, tenant_id: str, document_id: str, *, except_version: str | None
    ) -> None:
        chunks, _ = self._collections(tenant_id)
        where = Filter.by_property("document_id").equal(document_id)
        if except_version is not None:
            where = where & Filter.by_property("version").not_equal(except_version)
        await self._call(chunks.data.delete_many(where=where))

    async def _ensure_tenant(self, tenant_id: str) -> None:
        check_tenant_id(tenant_id)
        if tenant_id in self._tenants:
            return
        for name in (self._chunks_name, self._registry_name):
            collection = self._client.collections.get(name)
            if not await self._call(collection.tenants.exists(tenant_id)):
                await self._call(collection.tenants.create([Tenant(name=tenant_id)]))
        self._tenants.add(tenant_id)

    async def _tenant_exists(self, tenant_id: str) -> bool:
        collection = self._client.collections.get(self._registry_name)
        exists = await self._call(collection.tenants.exists(check_tenant_id(tenant_id)))
        if exists:
            self._tenants.add(tenant_id)
        return bool(exists)

    def _collections(self, tenant_id: str) -> tuple[_Collection, _Collection]:
        check_tenant_id(tenant_id)
        return (
            self._client.collections.get(self._chunks_name).with_tenant(tenant_id),
            self._client.collections.get(self._registry_name).with_tenant(tenant_id),
        )

    async def _create(self, name: str, properties: list[Property]) -> None:
        await self._call(
            self._client.collections.create(
                name,
                properties=properties,
                multi_tenancy_config=Configure.multi_tenancy(enabled=True),
                vector_config=Configure.Vectors.self_provided(
                    vector_index_config=Configure.VectorIndex.hnsw(
                        distance_metric=VectorDistances.COSINE
                    )
                ),
                inverted_index_config=Configure.inverted_index(bm25_k1=1.2, bm25_b=0.75),
            )
        )

    @staticmethod
    async def _call(operation: Awaitable[T]) -> T:
        """Await a client call; a store that cannot be reached becomes StoreUnavailableError."""
        try:
            return await operation
        except _UNAVAILABLE as exc:
            raise StoreUnavailableError(f"Weaviate unavailable: {exc}") from exc
        except WeaviateBaseError as exc:
            if "connect" in str(exc).lower() or "unavailable" in str(exc).lower():
                raise StoreUnavailableError(f"Weaviate unavailable: {exc}") from exc
            raise


def _chunk_id(document_id: str, number: int, version: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"chunk\x00{document_id}\x00{number}\x00{version}")


def _document_id(document_id: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"document\x00{document_id}")


def _properties(record: ChunkRecord, number: int) -> dict[str, Any]:
    for key in record.metadata:
        if "=" in key:
            raise ValueError(f"metadata key {key!r} must not contain '='")
    return {
        "source_id": record.source_id,
        "document_id": record.document_id,
        "version": record.version,
        "chunk_number": number,
        "tags": [f"{k}={v}" for k, v in sorted(record.metadata.items())],
        "title": record.title,
        "heading": record.heading,
        "text": record.text,
    }


def _record(found: Object[Properties, Any]) -> ChunkRecord:
    properties: Mapping[str, Any] = found.properties
    tags = [str(tag).split("=", 1) for tag in properties.get("tags") or []]
    return ChunkRecord(
        source_id=str(properties["source_id"]),
        document_id=str(properties["document_id"]),
        title=str(properties.get("title") or ""),
        heading=str(properties.get("heading") or ""),
        text=str(properties.get("text") or ""),
        version=str(properties.get("version") or ""),
        metadata={key: value for key, value in tags},
    )


def _score(found: Object[Properties, Any], query: SearchQuery) -> float:
    if query.mode == "vector":
        distance = found.metadata.distance
        return 1.0 - float(distance) if distance is not None else 0.0
    return float(found.metadata.score or 0.0)


def _similarity(found: Object[Properties, Any], query: F32) -> float:
    vector = np.asarray(found.vector["default"], dtype=np.float32)
    norms = float(np.linalg.norm(vector) * np.linalg.norm(query))
    return float(vector @ query) / max(norms, 1e-12)


def _where(filters: MetadataFilter) -> Any:
    conditions = []
    if filters.document_ids:
        conditions.append(
            Filter.by_property("document_id").contains_any(list(filters.document_ids))
        )
    if filters.metadata:
        tags = [f"{k}={v}" for k, v in sorted(filters.metadata.items())]
        conditions.append(Filter.by_property("tags").contains_all(tags))
    return Filter.all_of(conditions) if conditions else None


def _raise_on_errors(result: Any) -> None:
    if result.has_errors:
        messages = sorted({str(error.message) for error in result.errors.values()})
        raise RuntimeError(f"Weaviate rejected {len(result.errors)} objects: {messages[:3]}")
