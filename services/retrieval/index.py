"""An embedded, per-tenant vector index persisted as `.npy` matrices plus JSON-lines metadata.

Layout under the root, one directory per tenant:

    <tenant>/manifest.json            {"generation": 7, "count": 42, "dimension": 384}
    <tenant>/vectors-7.npy            float32 (count, dimension), unit-length rows
    <tenant>/chunks-7.jsonl           one ChunkRecord per row, in row order

Each write produces a new generation: both files land under their final names via a
temporary file and `os.replace`, then the manifest is replaced the same way. The
manifest switch is the commit point, so a crash never pairs vectors with other chunks.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]

_TENANT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_MANIFEST = "manifest.json"


def check_tenant_id(tenant_id: str) -> str:
    """Return `tenant_id` if it is safe as a directory name, else raise ValueError."""
    if not _TENANT_ID.match(tenant_id):
        raise ValueError(f"invalid tenant id {tenant_id!r}: expected {_TENANT_ID.pattern}")
    return tenant_id


@dataclass(frozen=True)
class ChunkRecord:
    source_id: str  # <document_id>#<chunk number>
    document_id: str
    title: str
    heading: str
    text: str
    version: str


@dataclass(frozen=True)
class SearchHit:
    record: ChunkRecord
    score: float


@dataclass(frozen=True)
class _Shard:
    """One tenant's immutable snapshot; writers build a new one and swap it in."""

    vectors: F32
    records: tuple[ChunkRecord, ...]
    generation: int


class VectorIndex:
    """Cosine top-k search over chunks, isolated per tenant. Example:

    >>> index = VectorIndex(Path("var/retrieval"))  # doctest: +SKIP
    >>> index.upsert("acme", "refund-policy", records, vectors)  # doctest: +SKIP
    >>> index.search("acme", query_vector, top_k=3)[0].record.source_id  # doctest: +SKIP
    'refund-policy#0'

    Safe for one writer thread alongside any number of searching threads.
    """

    def __init__(self, root: Path, *, dimension: int = 384) -> None:
        self._root = root
        self._dimension = dimension
        self._shards: dict[str, _Shard] = {}
        self._lock = threading.Lock()

    def upsert(
        self, tenant_id: str, document_id: str, records: Sequence[ChunkRecord], vectors: F32
    ) -> None:
        """Replace every chunk of `document_id` with `records`, row i embedded as `vectors[i]`."""
        if vectors.shape != (len(records), self._dimension):
            raise ValueError(
                f"expected vectors of shape ({len(records)}, {self._dimension}), "
                f"got {vectors.shape}"
            )
        strays = {r.document_id for r in records} - {document_id}
        if strays:
            raise ValueError(f"records of {sorted(strays)} upserted as document {document_id!r}")
        self._replace(tenant_id, document_id, tuple(records), _unit_rows(vectors))

    def delete(self, tenant_id: str, document_id: str) -> bool:
        """Remove every chunk of `document_id`; False when there was none."""
        if self.document_version(tenant_id, document_id) is None:
            return False
        empty = np.zeros((0, self._dimension), dtype=np.float32)
        self._replace(tenant_id, document_id, (), empty)
        return True

    def search(
        self, tenant_id: str, query: F32, *, top_k: int, min_score: float = -1.0
    ) -> list[SearchHit]:
        """The `top_k` chunks nearest to `query` by cosine, best first, scoring >= min_score."""
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        shard = self._shard(tenant_id)
        if not shard.records:
            return []
        scores = shard.vectors @ _unit_rows(query.reshape(1, -1))[0]
        if top_k < len(scores):
            candidates = np.argpartition(-scores, top_k - 1)[:top_k]
        else:
            candidates = np.arange(len(scores))
        best_first = candidates[np.argsort(-scores[candidates], kind="stable")]
        return [
            SearchHit(shard.records[i], float(scores[i]))
            for i in best_first
            if scores[i] >= min_score
        ]

    def document_version(self, tenant_id: str, document_id: str) -> str | None:
        for record in self._shard(tenant_id).records:
            if record.document_id == document_id:
                return record.version
        return None

    def chunk_count(self, tenant_id: str) -> int:
        return len(self._shard(tenant_id).records)

    def _replace(
        self,
        tenant_id: str,
        document_id: str,
        records: tuple[ChunkRecord, ...],
        vectors: F32,
    ) -> None:
        """Swap `document_id`'s rows for the given ones, on disk first, then in memory."""
        with self._lock:
            shard = self._load_locked(tenant_id)
            keep = np.fromiter(
                (r.document_id != document_id for r in shard.records),
                dtype=bool,
                count=len(shard.records),
            )
            kept = tuple(r for r, k in zip(shard.records, keep, strict=True) if k)
            updated = _Shard(
                np.concatenate([shard.vectors[keep], vectors]),
                (*kept, *records),
                shard.generation + 1,
            )
            self._persist(tenant_id, updated, previous=shard.generation)
            self._shards[tenant_id] = updated

    def _shard(self, tenant_id: str) -> _Shard:
        shard = self._shards.get(tenant_id)
        if shard is not None:
            return shard
        with self._lock:
            return self._load_locked(tenant_id)

    def _load_locked(self, tenant_id: str) -> _Shard:
        shard = self._shards.get(tenant_id)
        if shard is None:
            shard = self._read(tenant_id)
            self._shards[tenant_id] = shard
        return shard

    def _directory(self, tenant_id: str) -> Path:
        return self._root / check_tenant_id(tenant_id)

    def _read(self, tenant_id: str) -> _Shard:
        directory = self._directory(tenant_id)
        manifest_path = directory / _MANIFEST
        if not manifest_path.exists():
            return _Shard(np.zeros((0, self._dimension), np.float32), (), 0)
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        generation = int(manifest["generation"])
        vectors = np.load(directory / f"vectors-{generation}.npy", allow_pickle=False)
        with (directory / f"chunks-{generation}.jsonl").open(encoding="utf-8") as lines:
            records = tuple(ChunkRecord(**json.loads(line)) for line in lines if line.strip())
        if vectors.dtype != np.float32 or vectors.shape != (len(records), self._dimension):
            raise ValueError(
                f"{directory}: generation {generation} holds {vectors.dtype} vectors of shape "
                f"{vectors.shape} for {len(records)} chunks of dimension {self._dimension}"
            )
        return _Shard(vectors, records, generation)

    def _persist(self, tenant_id: str, shard: _Shard, *, previous: int) -> None:
        directory = self._directory(tenant_id)
        directory.mkdir(parents=True, exist_ok=True)
        generation = shard.generation
        _write_atomically(
            directory / f"vectors-{generation}.npy",
            lambda f: np.save(f, shard.vectors, allow_pickle=False),
        )
        _write_atomically(
            directory / f"chunks-{generation}.jsonl",
            lambda f: f.writelines(
                (json.dumps(dataclasses.asdict(r), ensure_ascii=False) + "\n").encode()
                for r in shard.records
            ),
        )
        manifest = {
            "generation": generation,
            "count": len(shard.records),
            "dimension": self._dimension,
        }
        _write_atomically(directory / _MANIFEST, lambda f: f.write(json.dumps(manifest).encode()))
        for stale in (f"vectors-{previous}.npy", f"chunks-{previous}.jsonl"):
            (directory / stale).unlink(missing_ok=True)


def _write_atomically(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as f:
        try:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        except BaseException:
            os.unlink(f.name)
            raise
    os.replace(f.name, path)


def _unit_rows(vectors: F32) -> F32:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit: F32 = (vectors / np.maximum(norms, np.float32(1e-12))).astype(np.float32, copy=False)
    return unit
