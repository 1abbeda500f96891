"""The vector index: upserts replace, deletes remove, tenants are isolated, state persists."""

from pathlib import Path

import numpy as np
import pytest

from services.retrieval.index import ChunkRecord, VectorIndex

DIMENSION = 4


def _records(document_id: str, count: int, version: str = "v1") -> list[ChunkRecord]:
    return [
        ChunkRecord(
            source_id=f"{document_id}#{n}",
            document_id=document_id,
            title=document_id.title(),
            heading=f"Section {n}",
            text=f"{document_id} chunk {n} {version}",
            version=version,
        )
        for n in range(count)
    ]


def _axis(*axes: int) -> np.ndarray:
    """One row per axis: a unit vector along it."""
    return np.eye(DIMENSION, dtype=np.float32)[list(axes)]


@pytest.fixture
def index(tmp_path: Path) -> VectorIndex:
    return VectorIndex(tmp_path, dimension=DIMENSION)


def _source_ids(index: VectorIndex, tenant: str, axis: int, top_k: int = 10) -> list[str]:
    return [h.record.source_id for h in index.search(tenant, _axis(axis)[0], top_k=top_k)]


def test_search_ranks_by_cosine_best_first(index: VectorIndex) -> None:
    vectors = np.array([[1, 0, 0, 0], [0.6, 0.8, 0, 0], [0, 1, 0, 0]], dtype=np.float32)
    index.upsert("acme", "doc", _records("doc", 3), vectors)
    hits = index.search("acme", np.array([1, 0.1, 0, 0], dtype=np.float32), top_k=2)
    assert [h.record.source_id for h in hits] == ["doc#0", "doc#1"], hits
    assert hits[0].score > hits[1].score, "scores must be descending"
    assert hits[0].score == pytest.approx(1 / np.sqrt(1.01), abs=1e-5), "score must be cosine"


def test_min_score_drops_weak_hits(index: VectorIndex) -> None:
    index.upsert("acme", "doc", _records("doc", 2), _axis(0, 1))
    hits = index.search("acme", _axis(0)[0], top_k=5, min_score=0.5)
    assert [h.record.source_id for h in hits] == ["doc#0"], "orthogonal chunk must be dropped"


def test_republishing_a_document_replaces_its_chunks(index: VectorIndex) -> None:
    index.upsert("acme", "doc", _records("doc", 3), _axis(0, 1, 2))
    index.upsert("acme", "doc", _records("doc", 2, version="v2"), _axis(0, 1))
    hits = index.search("acme", _axis(0)[0], top_k=10)
    assert sorted(h.record.source_id for h in hits) == ["doc#0", "doc#1"], "stale chunks remain"
    assert {h.record.version for h in hits} == {"v2"}, "chunks must come from the new version"
    assert index.document_version("acme", "doc") == "v2"


def test_upserting_one_document_keeps_the_others(index: VectorIndex) -> None:
    index.upsert("acme", "a", _records("a", 1), _axis(0))
    index.upsert("acme", "b", _records("b", 1), _axis(1))
    index.upsert("acme", "a", _records("a", 1, version="v2"), _axis(2))
    assert _source_ids(index, "acme", 1, top_k=1) == ["b#0"], "document b must survive"
    assert index.chunk_count("acme") == 2


def test_delete_removes_every_chunk_of_the_document(index: VectorIndex) -> None:
    index.upsert("acme", "a", _records("a", 2), _axis(0, 1))
    index.upsert("acme", "b", _records("b", 1), _axis(2))
    assert index.delete("acme", "a"), "delete must report that it removed something"
    assert [i.split("#")[0] for i in _source_ids(index, "acme", 0)] == ["b"], "a must be gone"
    assert not index.delete("acme", "a"), "deleting a missing document reports False"


def test_tenants_never_see_each_others_chunks(index: VectorIndex) -> None:
    index.upsert("acme", "doc", _records("doc", 1), _axis(0))
    index.upsert("globex", "other", _records("other", 1), _axis(0))
    assert _source_ids(index, "acme", 0) == ["doc#0"], "acme saw another tenant's chunk"
    assert _source_ids(index, "globex", 0) == ["other#0"], "globex saw another tenant's chunk"
    assert _source_ids(index, "initech", 0) == [], "an unknown tenant has no chunks"


def test_a_reopened_index_serves_the_persisted_state(tmp_path: Path) -> None:
    first = VectorIndex(tmp_path, dimension=DIMENSION)
    first.upsert("acme", "a", _records("a", 2), _axis(0, 1))
    first.upsert("acme", "b", _records("b", 1), _axis(2))
    first.delete("acme", "a")
    reopened = VectorIndex(tmp_path, dimension=DIMENSION)
    hits = reopened.search("acme", _axis(2)[0], top_k=5)
    assert [h.record for h in hits] == _records("b", 1), "reloaded metadata differs"
    assert hits[0].score == pytest.approx(1.0), "reloaded vectors differ"


def test_only_the_current_generation_stays_on_disk(tmp_path: Path) -> None:
    index = VectorIndex(tmp_path, dimension=DIMENSION)
    for version in ("v1", "v2", "v3"):
        index.upsert("acme", "doc", _records("doc", 1, version), _axis(0))
    names = sorted(p.name for p in (tmp_path / "acme").iterdir())
    assert names == ["chunks-3.jsonl", "manifest.json", "vectors-3.npy"], names


@pytest.mark.parametrize("tenant", ["../escape", "", ".hidden", "a/b"])
def test_a_tenant_id_that_is_not_a_safe_directory_name_is_rejected(
    index: VectorIndex, tenant: str
) -> None:
    with pytest.raises(ValueError, match="invalid tenant id"):
        index.search(tenant, _axis(0)[0], top_k=1)


def test_vectors_must_match_the_records(index: VectorIndex) -> None:
    with pytest.raises(ValueError, match="shape"):
        index.upsert("acme", "doc", _records("doc", 2), _axis(0))
