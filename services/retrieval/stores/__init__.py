"""Where the retrieval service keeps chunks: one interface, an embedded and a Weaviate store."""

from services.retrieval.stores.base import (
    ChunkRecord,
    MetadataFilter,
    SearchHit,
    SearchMode,
    SearchQuery,
    StoreUnavailableError,
    UnknownTenantError,
    VectorStore,
    check_tenant_id,
)
from services.retrieval.stores.embedded import EmbeddedStore
from services.retrieval.stores.weaviate import WeaviateStore

__all__ = [
    "ChunkRecord",
    "EmbeddedStore",
    "MetadataFilter",
    "SearchHit",
    "SearchMode",
    "SearchQuery",
    "StoreUnavailableError",
    "UnknownTenantError",
    "VectorStore",
    "WeaviateStore",
    "check_tenant_id",
]
