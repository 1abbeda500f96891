"""The embedded store's files: per-tenant vector matrices plus JSON-lines chunk metadata.

Layout under the root, one directory per tenant:

    <tenant>/manifest.json            {"generation": 7, "count": 42, "dimension": 384}
    <tenant>/vectors-7.npy            float32 (count, dimension), unit-length rows
    <tenant>/chunks-7.jsonl           one ChunkRecord per row, in row order

Each write produces a new generation: both files land under their final names via a
temporary file and `os.replace`, then the manifest is replaced the same way. The
manifest switch is the commit point, so a crash never pairs vectors with other chunks,
and a reader sees a document wholly in one generation or wholly in another. A reader
notices a newer generation written by another process (an ingestion worker) on its next
read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from services.retrieval.stores.base import F32, ChunkRecord, check_tenant_id
from services.retrieval.stores.bm25 import Bm25

_MANIFEST = "manifest.json"
_LOCK = ".writer.lock"

_Stamp = tuple[int, int, int]


@dataclass(frozen=True)
class Shard:
    """One tenant's immutable snapshot; writers build a new one and swap it in."""

    vectors: F32
    records: tuple[ChunkRecord, ...]
    generation: int

    @functools.cached_property
    def bm25(self) -> Bm25:
        """The keyword index over this snapshot's chunks, built on first use."""
        return Bm25([f"{r.title}\n{r.heading}\n{r.text}" for r in self.records])


class VectorIndex:
    """Chunks and their unit vectors per tenant, persisted, read as immutable snapshots.

    >>> index = VectorIndex(Path("var/retrieval"))  # doctest: +SKIP
    >>> index.upsert("acme", "refund-policy", records, vectors)  # doctest: +SKIP
    >>> index.snapshot("acme").records[0].source_id  # doctest: +SKIP
    'refund-policy#0'

    Safe for any number of reading and writing threads and processes: writers take turns
    under a file lock, and readers see each commit on their next read.
    """

    def __init__(self, root: Path, *, dimension: int = 384) -> None:
        self._root = root
        self._dimension = dimension
        self._shards: dict[str, tuple[_Stamp, Shard]] = {}  # by tenant: (manifest stamp, shard)
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
        self._replace(tenant_id, document_id, (), _empty(self._dimension).vectors)
        return True

    def snapshot(self, tenant_id: str) -> Shard | None:
        """The tenant's committed chunks now; None for a tenant never written."""
        return self._shard(tenant_id)

    def document_version(self, tenant_id: str, document_id: str) -> str | None:
        shard = self._shard(tenant_id)
        for record in shard.records if shard else ():
            if record.document_id == document_id:
                return record.version
        return None

    def chunk_count(self, tenant_id: str) -> int:
        shard = self._shard(tenant_id)
        return len(shard.records) if shard else 0

    def _replace(
        self,
        tenant_id: str,
        document_id: str,
        records: tuple[ChunkRecord, ...],
        vectors: F32,
    ) -> None:
        """Swap `document_id`'s rows for the given ones, on disk first, then in memory.

        An exclusive file lock per tenant makes writers in several processes take turns,
        each starting from the generation the last one committed.
        """
        directory = self._directory(tenant_id)
        directory.mkdir(parents=True, exist_ok=True)
        with self._lock, _exclusive(directory / _LOCK):
            shard = self._load_locked(tenant_id) or _empty(self._dimension)
            keep = np.fromiter(
                (r.document_id != document_id for r in shard.records),
                dtype=bool,
                count=len(shard.records),
            )
            kept = tuple(r for r, k in zip(shard.records, keep, strict=True) if k)
            updated = Shard(
                np.concatenate([shard.vectors[keep], vectors]),
                (*kept, *records),
                shard.generation + 1,
            )
            self._persist(tenant_id, updated, previous=shard.generation)
            stamp = self._manifest_stamp(tenant_id)
            if stamp is not None:
                self._shards[tenant_id] = (stamp, updated)

    def _shard(self, tenant_id: str) -> Shard | None:
        cached = self._shards.get(tenant_id)
        if cached is not None and cached[0] == self._manifest_stamp(tenant_id):
            return cached[1]
        with self._lock:
            return self._load_locked(tenant_id)

    def _load_locked(self, tenant_id: str) -> Shard | None:
        stamp = self._manifest_stamp(tenant_id)
        cached = self._shards.get(tenant_id)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        if stamp is None:
            return None
        try:
            shard = self._read(tenant_id)
        except FileNotFoundError:
            # Another process committed a generation and removed this one mid-read.
            return self._load_locked(tenant_id)
        self._shards[tenant_id] = (stamp, shard)
        return shard

    def _manifest_stamp(self, tenant_id: str) -> _Stamp | None:
        # Every commit renames a new file over the manifest: a new inode, and a new mtime
        # unless two commits share a clock tick, so together they tell generations apart.
        try:
            stat = (self._directory(tenant_id) / _MANIFEST).stat()
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def _directory(self, tenant_id: str) -> Path:
        return self._root / check_tenant_id(tenant_id)

    def _read(self, tenant_id: str) -> Shard:
        directory = self._directory(tenant_id)
        manifest = json.loads((directory / _MANIFEST).read_text(encoding="utf-8"))
        generation = int(manifest["generation"])
        vectors = np.load(directory / f"vectors-{generation}.npy", allow_pickle=False)
        with (directory / f"chunks-{generation}.jsonl").open(encoding="utf-8") as lines:
            records = tuple(ChunkRecord(**json.loads(line)) for line in lines if line.strip())
        if vectors.dtype != np.float32 or vectors.shape != (len(records), self._dimension):
            raise ValueError(
                f"{directory}: generation {generation} holds {vectors.dtype} vectors of shape "
                f"{vectors.shape} for {len(records)} chunks of dimension {self._dimension}"
            )
        return Shard(vectors, records, generation)

    def _persist(self, tenant_id: str, shard: Shard, *, previous: int) -> None:
        directory = self._directory(tenant_id)
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


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _empty(dimension: int) -> Shard:
    return Shard(np.zeros((0, dimension), np.float32), (), 0)


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
