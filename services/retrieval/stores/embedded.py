"""The embedded store: the on-disk index searched in process; no server to run."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import numpy.typing as npt

from services.retrieval.stores.base import (
    F32,
    ChunkRecord,
    SearchHit,
    SearchQuery,
    UnknownTenantError,
    check_tenant_id,
)
from services.retrieval.stores.embedded_index import Shard, VectorIndex
from services.retrieval.stores.fusion import relative_score_fusion

# Candidates each side of a hybrid search contributes before fusion.
HYBRID_CANDIDATES = 100


class EmbeddedStore:
    """`VectorStore` over files under `root`: exact cosine, BM25, relative score fusion.

    >>> store = EmbeddedStore(Path("var/retrieval"))  # doctest: +SKIP
    >>> await store.search("acme", SearchQuery("refund window", vector, top_k=3))  # doctest: +SKIP
    """

    name = "embedded"

    def __init__(self, root: Path, *, dimension: int = 384) -> None:
        self._root = root
        self._index = VectorIndex(root, dimension=dimension)
        # One search at a time: each is a sub-millisecond NumPy call that already uses every
        # core through BLAS, and parallel ones oversubscribe the cores (8 at once ran ~8x
        # slower in total than one after another in `make bench-retrieval`).
        self._searches = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedded-search")

    async def start(self) -> None:
        await asyncio.to_thread(self._root.mkdir, parents=True, exist_ok=True)

    async def close(self) -> None:
        """Stop the search thread; every commit is already on disk."""
        self._searches.shutdown(wait=False, cancel_futures=True)

    async def upsert(
        self, tenant_id: str, document_id: str, records: Sequence[ChunkRecord], vectors: F32
    ) -> None:
        await asyncio.to_thread(self._index.upsert, tenant_id, document_id, records, vectors)

    async def delete(self, tenant_id: str, document_id: str) -> bool:
        return await asyncio.to_thread(self._index.delete, tenant_id, document_id)

    async def document_version(self, tenant_id: str, document_id: str) -> str | None:
        return await asyncio.to_thread(self._index.document_version, tenant_id, document_id)

    async def search(self, tenant_id: str, query: SearchQuery) -> list[SearchHit]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._searches, self.search_now, tenant_id, query)

    def search_now(self, tenant_id: str, query: SearchQuery) -> list[SearchHit]:
        """`search`, blocking the calling thread."""
        shard = self._index.snapshot(check_tenant_id(tenant_id))
        if shard is None:
            raise UnknownTenantError(f"no documents were ever stored for tenant {tenant_id!r}")
        allowed = np.fromiter(
            (query.filters.matches(r) for r in shard.records), dtype=bool, count=len(shard.records)
        )
        similarities = shard.vectors @ _unit(query.vector)
        allowed &= similarities >= query.min_similarity
        if query.mode == "bm25":
            return _hits(shard, _keyword(shard, query, allowed, query.top_k))
        if query.mode == "vector":
            return _hits(shard, _best(similarities, allowed, query.top_k))
        vector = _best(similarities, allowed, HYBRID_CANDIDATES)
        keyword = _keyword(shard, query, allowed, HYBRID_CANDIDATES)
        fused = relative_score_fusion(vector, keyword, query.alpha)
        return _hits(shard, fused, limit=query.top_k)


def _unit(vector: F32) -> F32:
    norm = np.linalg.norm(vector)
    unit: F32 = (vector / max(norm, np.float32(1e-12))).astype(np.float32, copy=False)
    return unit


def _keyword(
    shard: Shard, query: SearchQuery, allowed: npt.NDArray[np.bool_], n: int
) -> dict[int, float]:
    """The best `n` allowed rows by BM25 that hold at least one query term, best first."""
    scores = shard.bm25.scores(query.text)
    return _best(scores, allowed & (scores > 0), n)


def _best(scores: F32, eligible: npt.NDArray[np.bool_], n: int) -> dict[int, float]:
    rows = np.flatnonzero(eligible)
    if len(rows) > n:
        rows = rows[np.argpartition(-scores[rows], n - 1)[:n]]
    ordered = rows[np.argsort(-scores[rows], kind="stable")]
    return {int(row): float(scores[row]) for row in ordered}


def _hits(shard: Shard, scores: dict[int, float], *, limit: int | None = None) -> list[SearchHit]:
    ranked = sorted(scores.items(), key=lambda item: -item[1])[:limit]
    return [SearchHit(shard.records[row], score) for row, score in ranked]
