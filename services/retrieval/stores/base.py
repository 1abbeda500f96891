"""What every vector store behind the retrieval service offers, whatever holds the vectors.

Two stores implement it: the embedded index (files under the data dir, no server) and
Weaviate. The same behaviour tests run against both (`tests/integration/test_vector_stores.py`).

Guarantees every store keeps:
- tenants are isolated: a search in one tenant never returns another's chunk;
- a document is replaced as a whole: a search sees all chunks of one version of it, never
  part of a version being written, and never two versions at once;
- searching a tenant the store has never held raises `UnknownTenantError`;
- a store that cannot be reached raises `StoreUnavailableError` (callers retry with backoff).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]

SearchMode = Literal["vector", "bm25", "hybrid"]

_TENANT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class UnknownTenantError(LookupError):
    """The store holds nothing for this tenant."""


class StoreUnavailableError(ConnectionError):
    """The store is down, unreachable or too slow; the operation may succeed later."""


def check_tenant_id(tenant_id: str) -> str:
    """Return `tenant_id` if every store can take it as a name, else raise ValueError."""
    if not _TENANT_ID.match(tenant_id):
        raise ValueError(f"invalid tenant id {tenant_id!r}: expected {_TENANT_ID.pattern}")
    return tenant_id


@dataclass(frozen=True)
class ChunkRecord:
    """One chunk of one version of a document, as stored."""

    source_id: str  # <document_id>#<chunk number>
    document_id: str
    title: str
    heading: str
    text: str
    version: str
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MetadataFilter:
    """Chunks must match every given condition; empty matches everything.

    `document_ids`: the chunk's document is one of these. `metadata`: the chunk's document
    metadata has every one of these key/value pairs.
    """

    document_ids: tuple[str, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)

    def matches(self, record: ChunkRecord) -> bool:
        if self.document_ids and record.document_id not in self.document_ids:
            return False
        return all(record.metadata.get(k) == v for k, v in self.metadata.items())


@dataclass(frozen=True)
class SearchQuery:
    """One search. `alpha` weighs hybrid search: 1 is pure vector, 0 pure BM25.

    `min_similarity` drops every chunk whose cosine similarity to the query vector is lower,
    whichever mode found it; BM25 candidates also need at least one query term.
    """

    text: str
    vector: F32
    top_k: int
    mode: SearchMode = "hybrid"
    alpha: float = 0.5
    min_similarity: float = -1.0
    filters: MetadataFilter = field(default_factory=MetadataFilter)

    def __post_init__(self) -> None:
        if self.top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {self.top_k}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be within [0, 1], got {self.alpha}")
        if self.mode != "vector" and not self.text.strip():
            raise ValueError(f"a {self.mode} search needs query text")


@dataclass(frozen=True)
class SearchHit:
    """A chunk and its score: cosine for vector, BM25 for bm25, fused (0..1) for hybrid."""

    record: ChunkRecord
    score: float


class VectorStore(Protocol):
    """Chunks per tenant, replaced a document at a time, searched by vector, BM25 or both."""

    name: str

    async def start(self) -> None:
        """Connect and create what the store needs (collections, directories)."""

    async def close(self) -> None: ...

    async def upsert(
        self, tenant_id: str, document_id: str, records: Sequence[ChunkRecord], vectors: F32
    ) -> None:
        """Make `records` the whole of `document_id` (row i of `vectors` embeds record i).

        Creates the tenant on first use. Safe to repeat with the same arguments.
        """

    async def delete(self, tenant_id: str, document_id: str) -> bool:
        """Remove every chunk of `document_id`; False when the store held none."""

    async def document_version(self, tenant_id: str, document_id: str) -> str | None:
        """The version of `document_id` searches see now; None if the store holds none."""

    async def search(self, tenant_id: str, query: SearchQuery) -> list[SearchHit]:
        """The best `query.top_k` chunks of the tenant, best first."""
