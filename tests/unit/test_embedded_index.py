"""The embedded store's files: commits are atomic, persist, and reach other readers."""

import multiprocessing
from pathlib import Path

import numpy as np
import pytest

from services.retrieval.stores import ChunkRecord
from services.retrieval.stores.embedded_index import VectorIndex

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
            metadata={"kind": "faq"},
        )
        for n in range(count)
    ]


def _axis(*axes: int) -> np.ndarray:
    """One row per axis: a unit vector along it."""
    return np.eye(DIMENSION, dtype=np.float32)[list(axes)]


def test_a_reopened_index_serves_the_persisted_state(tmp_path: Path) -> None:
    first = VectorIndex(tmp_path, dimension=DIMENSION)
    first.upsert("acme", "a", _records("a", 2), _axis(0, 1))
    first.upsert("acme", "b", _records("b", 1), _axis(2))
    first.delete("acme", "a")

    snapshot = VectorIndex(tmp_path, dimension=DIMENSION).snapshot("acme")

    assert snapshot is not None, "the tenant was lost"
    assert list(snapshot.records) == _records("b", 1), "reloaded metadata differs"
    np.testing.assert_array_equal(snapshot.vectors, _axis(2), "reloaded vectors differ")


def test_only_the_current_generation_stays_on_disk(tmp_path: Path) -> None:
    index = VectorIndex(tmp_path, dimension=DIMENSION)
    for version in ("v1", "v2", "v3"):
        index.upsert("acme", "doc", _records("doc", 1, version), _axis(0))
    names = sorted(p.name for p in (tmp_path / "acme").iterdir() if not p.name.startswith("."))
    assert names == ["chunks-3.jsonl", "manifest.json", "vectors-3.npy"], names


def test_a_reader_sees_a_commit_made_through_another_index(tmp_path: Path) -> None:
    reader = VectorIndex(tmp_path, dimension=DIMENSION)
    writer = VectorIndex(tmp_path, dimension=DIMENSION)
    writer.upsert("acme", "doc", _records("doc", 1), _axis(0))
    assert reader.document_version("acme", "doc") == "v1"

    writer.upsert("acme", "doc", _records("doc", 1, "v2"), _axis(0))

    assert reader.document_version("acme", "doc") == "v2", "the reader kept a stale snapshot"


def _write_documents(root: str, prefix: str, count: int) -> None:
    index = VectorIndex(Path(root), dimension=DIMENSION)
    for n in range(count):
        index.upsert("acme", f"{prefix}{n}", _records(f"{prefix}{n}", 1), _axis(0))


def test_writers_in_two_processes_lose_no_document(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    writers = [
        context.Process(target=_write_documents, args=(str(tmp_path), prefix, 15))
        for prefix in ("a", "b")
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=60)
    assert all(w.exitcode == 0 for w in writers), [w.exitcode for w in writers]

    assert VectorIndex(tmp_path, dimension=DIMENSION).chunk_count("acme") == 30, "lost updates"


def test_a_tenant_never_written_has_no_snapshot(tmp_path: Path) -> None:
    assert VectorIndex(tmp_path, dimension=DIMENSION).snapshot("acme") is None


@pytest.mark.parametrize("tenant", ["../escape", "", ".hidden", "a/b"])
def test_a_tenant_id_that_is_not_a_safe_directory_name_is_rejected(
    tmp_path: Path, tenant: str
) -> None:
    with pytest.raises(ValueError, match="invalid tenant id"):
        VectorIndex(tmp_path, dimension=DIMENSION).snapshot(tenant)


def test_vectors_must_match_the_records(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="shape"):
        VectorIndex(tmp_path, dimension=DIMENSION).upsert(
            "acme", "doc", _records("doc", 2), _axis(0)
        )
