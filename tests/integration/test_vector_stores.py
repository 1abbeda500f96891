"""One specification, two stores: the embedded index and the real Weaviate server behave alike.

Vectors are unit axes of a small space, so expected rankings are exact.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import numpy as np
import pytest

from services.retrieval.stores import (
    ChunkRecord,
    EmbeddedStore,
    MetadataFilter,
    SearchMode,
    SearchQuery,
    StoreUnavailableError,
    UnknownTenantError,
    VectorStore,
    WeaviateStore,
)
from shared.testing import WeaviateServer
from shared.testing._process import free_ports

pytestmark = pytest.mark.weaviate

DIMENSION = 8
COLLECTION = "ConduitStoreSpec"


def axis(*weights: float) -> np.ndarray:
    vector = np.zeros(DIMENSION, dtype=np.float32)
    vector[: len(weights)] = weights
    return vector


def records(
    document_id: str,
    texts: list[str],
    version: str = "v1",
    metadata: Mapping[str, str] | None = None,
) -> list[ChunkRecord]:
    return [
        ChunkRecord(
            source_id=f"{document_id}#{n}",
            document_id=document_id,
            title=document_id.replace("-", " ").title(),
            heading=f"Section {n}",
            text=text,
            version=version,
            metadata=dict(metadata or {}),
        )
        for n, text in enumerate(texts)
    ]


def vectors(*rows: np.ndarray) -> np.ndarray:
    return np.stack(rows).astype(np.float32)


def query(
    text: str, vector: np.ndarray, mode: SearchMode = "vector", top_k: int = 10, **options: object
) -> SearchQuery:
    return SearchQuery(text=text, vector=vector, top_k=top_k, mode=mode, **options)  # type: ignore[arg-type]


@pytest.fixture
def tenant() -> str:
    """A tenant no other test writes, so tests share one Weaviate collection safely."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["embedded", "weaviate"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VectorStore]:
    chosen: VectorStore
    if request.param == "embedded":
        chosen = EmbeddedStore(tmp_path / "retrieval", dimension=DIMENSION)
    else:
        server: WeaviateServer = request.getfixturevalue("weaviate_server")
        chosen = WeaviateStore(
            http_host="127.0.0.1",
            http_port=server.http_port,
            grpc_port=server.grpc_port,
            collection=COLLECTION,
        )
    await chosen.start()
    try:
        yield chosen
    finally:
        await chosen.close()


def ids(hits: list) -> list[str]:  # type: ignore[type-arg]
    return [hit.record.source_id for hit in hits]


async def test_vector_search_ranks_by_cosine_best_first(store: VectorStore, tenant: str) -> None:
    await store.upsert(
        tenant,
        "doc",
        records("doc", ["alpha", "beta", "gamma"]),
        vectors(axis(1), axis(0.6, 0.8), axis(0, 1)),
    )

    hits = await store.search(tenant, query("alpha", axis(1, 0.1), top_k=2))

    assert ids(hits) == ["doc#0", "doc#1"], f"wrong ranking: {hits}"
    assert hits[0].score == pytest.approx(1 / np.sqrt(1.01), abs=1e-3), "score must be cosine"
    assert hits[0].score > hits[1].score, "scores must descend"


async def test_results_carry_source_text_score_heading_title_and_version(
    store: VectorStore, tenant: str
) -> None:
    await store.upsert(
        tenant, "refund-policy", records("refund-policy", ["Refunds within 60 days."], "v7"),
        vectors(axis(1)),
    )  # fmt: skip

    [hit] = await store.search(tenant, query("refunds", axis(1)))

    assert hit.record == records("refund-policy", ["Refunds within 60 days."], "v7")[0], hit
    assert hit.score > 0.99, f"score lost: {hit.score}"


@pytest.mark.parametrize("mode", ["vector", "bm25", "hybrid"])
async def test_min_similarity_drops_chunks_far_from_the_question(
    store: VectorStore, tenant: str, mode: SearchMode
) -> None:
    texts = ["parcel tracking near", "parcel tracking far"]
    await store.upsert(tenant, "doc", records("doc", texts), vectors(axis(1), axis(0, 1)))

    hits = await store.search(tenant, query("parcel tracking", axis(1), mode, min_similarity=0.5))

    assert ids(hits) == ["doc#0"], f"{mode}: an orthogonal chunk passed the floor: {hits}"


async def test_bm25_finds_keywords_and_skips_chunks_without_any(
    store: VectorStore, tenant: str
) -> None:
    texts = ["The warranty covers parts for two years", "Shipping takes a week"]
    await store.upsert(tenant, "faq", records("faq", texts), vectors(axis(1), axis(1)))

    hits = await store.search(tenant, query("warranty parts", axis(0, 1), mode="bm25"))

    assert ids(hits) == ["faq#0"], f"keyword search returned {hits}"
    assert hits[0].score > 0, "a BM25 score must be positive"


async def test_bm25_finds_a_rare_term_in_a_document_written_after_many_others(
    store: VectorStore, tenant: str
) -> None:
    """Weaviate 1.35's BlockMax WAND loses these (hence USE_INVERTED_SEARCHABLE=false)."""
    filler = [f"the argument {n} of a function call is evaluated first" for n in range(300)]
    for start in range(0, len(filler), 100):
        texts = filler[start : start + 100]
        await store.upsert(
            tenant, f"filler{start}", records(f"filler{start}", texts),
            vectors(*[axis(0, 1)] * len(texts)),
        )  # fmt: skip
    await store.upsert(
        tenant, "csv", records("csv", ["the dialect argument names a CSV format"]), vectors(axis(1))
    )

    hits = await store.search(tenant, query("dialect argument", axis(1), mode="bm25", top_k=3))

    assert ids(hits)[:1] == ["csv#0"], f"the only document with 'dialect' was not first: {hits}"


async def test_hybrid_search_blends_keyword_and_vector_evidence(
    store: VectorStore, tenant: str
) -> None:
    texts = [
        "refund window is sixty days",  # keywords and vector
        "refund requests go to billing",  # keywords only
        "money back within two months",  # vector only
        "our office dogs are friendly",  # neither
    ]
    await store.upsert(
        tenant, "kb", records("kb", texts), vectors(axis(1), axis(0, 0, 1), axis(1), axis(0, 1))
    )

    hits = await store.search(
        tenant, query("refund window", axis(1), mode="hybrid", top_k=3, alpha=0.5)
    )

    assert ids(hits)[0] == "kb#0", f"the chunk matching both must rank first: {hits}"
    assert set(ids(hits)) == {"kb#0", "kb#1", "kb#2"}, f"one side's evidence was lost: {hits}"


async def test_alpha_one_is_pure_vector_and_zero_pure_keyword(
    store: VectorStore, tenant: str
) -> None:
    texts = ["refund policy details", "unrelated words entirely"]
    await store.upsert(tenant, "kb", records("kb", texts), vectors(axis(0, 1), axis(1)))

    by_vector = await store.search(tenant, query("refund", axis(1), "hybrid", top_k=1, alpha=1.0))
    by_words = await store.search(tenant, query("refund", axis(1), "hybrid", top_k=1, alpha=0.0))

    assert ids(by_vector) == ["kb#1"], f"alpha=1 must rank by vector: {by_vector}"
    assert ids(by_words) == ["kb#0"], f"alpha=0 must rank by keywords: {by_words}"


async def test_republishing_a_document_replaces_its_chunks(store: VectorStore, tenant: str) -> None:
    await store.upsert(
        tenant, "doc", records("doc", ["a", "b", "c"]), vectors(axis(1), axis(1), axis(1))
    )
    await store.upsert(tenant, "doc", records("doc", ["a2", "b2"], "v2"), vectors(axis(1), axis(1)))

    hits = await store.search(tenant, query("a2", axis(1)))

    assert sorted(ids(hits)) == ["doc#0", "doc#1"], f"stale chunks remain: {hits}"
    assert {hit.record.version for hit in hits} == {"v2"}, "chunks of the old version remain"
    assert await store.document_version(tenant, "doc") == "v2"


async def test_upserting_the_same_version_twice_leaves_one_copy(
    store: VectorStore, tenant: str
) -> None:
    for _ in range(2):
        await store.upsert(tenant, "doc", records("doc", ["a", "b"]), vectors(axis(1), axis(1)))

    hits = await store.search(tenant, query("a", axis(1)))

    assert sorted(ids(hits)) == ["doc#0", "doc#1"], f"a redelivered upsert duplicated: {hits}"


async def test_upserting_one_document_keeps_the_others(store: VectorStore, tenant: str) -> None:
    await store.upsert(tenant, "a", records("a", ["a"]), vectors(axis(1)))
    await store.upsert(tenant, "b", records("b", ["b"]), vectors(axis(0, 1)))
    await store.upsert(tenant, "a", records("a", ["a2"], "v2"), vectors(axis(0, 0, 1)))

    hits = await store.search(tenant, query("b", axis(0, 1), top_k=1))

    assert ids(hits) == ["b#0"], f"document b must survive a's replacement: {hits}"


async def test_delete_removes_every_chunk_of_the_document(store: VectorStore, tenant: str) -> None:
    await store.upsert(tenant, "a", records("a", ["a", "a"]), vectors(axis(1), axis(1)))
    await store.upsert(tenant, "b", records("b", ["b"]), vectors(axis(1)))

    assert await store.delete(tenant, "a"), "delete must report that it removed something"

    assert ids(await store.search(tenant, query("a", axis(1)))) == ["b#0"], "a must be gone"
    assert await store.document_version(tenant, "a") is None
    assert not await store.delete(tenant, "a"), "deleting a missing document reports False"


@pytest.mark.parametrize("mode", ["vector", "bm25", "hybrid"])
async def test_a_search_never_returns_another_tenants_chunk(
    store: VectorStore, tenant: str, mode: SearchMode
) -> None:
    other = f"{tenant}x"
    await store.upsert(tenant, "mine", records("mine", ["shared words here"]), vectors(axis(0, 1)))
    await store.upsert(other, "theirs", records("theirs", ["shared words here"]), vectors(axis(1)))

    hits = await store.search(tenant, query("shared words", axis(1), mode))

    assert ids(hits) == ["mine#0"], f"{mode} search crossed tenants: {hits}"


async def test_searching_a_tenant_never_written_is_an_unknown_tenant(store: VectorStore) -> None:
    with pytest.raises(UnknownTenantError):
        await store.search(f"never{uuid.uuid4().hex[:8]}", query("x", axis(1)))


async def test_filters_restrict_results_to_documents_and_metadata(
    store: VectorStore, tenant: str
) -> None:
    await store.upsert(
        tenant, "router", records("router", ["reset it"], metadata={"product": "router"}),
        vectors(axis(1)),
    )  # fmt: skip
    await store.upsert(
        tenant, "modem", records("modem", ["reset it"], metadata={"product": "modem"}),
        vectors(axis(1)),
    )  # fmt: skip

    by_metadata = await store.search(
        tenant,
        query("reset", axis(1), "hybrid", filters=MetadataFilter(metadata={"product": "modem"})),
    )
    by_document = await store.search(
        tenant, query("reset", axis(1), "bm25", filters=MetadataFilter(document_ids=("router",)))
    )

    assert ids(by_metadata) == ["modem#0"], f"metadata filter ignored: {by_metadata}"
    assert ids(by_document) == ["router#0"], f"document filter ignored: {by_document}"
    assert by_metadata[0].record.metadata == {"product": "modem"}, "metadata not returned"


async def test_weaviate_hides_a_version_whose_write_never_committed(
    weaviate_server: WeaviateServer, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = WeaviateStore(
        http_host="127.0.0.1",
        http_port=weaviate_server.http_port,
        grpc_port=weaviate_server.grpc_port,
        collection=COLLECTION,
    )
    await store.start()
    try:
        await store.upsert(tenant, "doc", records("doc", ["old"]), vectors(axis(1)))

        async def crash(*_: object) -> None:
            raise RuntimeError("process died before the commit")

        monkeypatch.setattr(store, "_commit", crash)
        with pytest.raises(RuntimeError, match="died"):
            await store.upsert(
                tenant, "doc", records("doc", ["new", "new"], "v2"), vectors(axis(1), axis(1))
            )

        hits = await store.search(tenant, query("new", axis(1), "hybrid"))
    finally:
        await store.close()
    assert ids(hits) == ["doc#0"], f"a half-written version is visible: {hits}"
    assert hits[0].record.version == "v1", f"the uncommitted version leaked: {hits}"


async def test_weaviate_that_is_down_is_store_unavailable() -> None:
    [port, grpc_port] = free_ports(2)
    store = WeaviateStore(http_host="127.0.0.1", http_port=port, grpc_port=grpc_port, timeout_s=2.0)
    try:
        with pytest.raises(StoreUnavailableError):
            await store.start()
    finally:
        await store.close()


async def test_weaviate_that_never_answers_is_store_unavailable_after_the_timeout() -> None:
    """A server that accepts connections and then stays silent, as a hung Weaviate would."""
    with socket.socket() as http, socket.socket() as grpc:
        for silent in (http, grpc):
            silent.bind(("127.0.0.1", 0))
            silent.listen(16)
        store = WeaviateStore(
            http_host="127.0.0.1",
            http_port=http.getsockname()[1],
            grpc_port=grpc.getsockname()[1],
            timeout_s=1.0,
        )
        started = time.monotonic()
        try:
            with pytest.raises(StoreUnavailableError):
                await store.start()
        finally:
            await store.close()
    assert time.monotonic() - started < 30, "the timeout was not applied"
