"""Vectors of a fixed list of texts (a classifier's examples, say), kept on this process's
disk so that a restart reads them back instead of embedding every text again."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from shared.embeddings.embedder import F32, Embedder


class StoredVectors:
    """Example:

    >>> stored = StoredVectors(default_embedder(), Path("var/vectors"))  # doctest: +SKIP
    >>> stored.embed(examples).shape  # doctest: +SKIP
    (473, 384)

    A file is named by a digest of the embedder's identity and the texts in order, so a
    changed example, model or setting embeds afresh; a file that cannot be read is replaced.
    Only a cache: deleting the directory costs one embedding of the texts.
    """

    def __init__(self, embedder: Embedder, directory: Path) -> None:
        self._embedder = embedder
        self._directory = directory

    def embed(self, texts: Sequence[str]) -> F32:
        path = self._directory / f"{self._digest(texts)}.npy"
        expected = (len(texts), self._embedder.dimension)
        try:
            stored: F32 = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            pass
        else:
            if stored.shape == expected and stored.dtype == np.float32:
                return stored
        vectors = self._embedder.embed(texts)
        self._write(path, vectors)
        return vectors

    def _digest(self, texts: Sequence[str]) -> str:
        digest = hashlib.sha256(self._embedder.identity.encode())
        for text in texts:
            digest.update(b"\0" + text.encode())
        return digest.hexdigest()[:32]

    @staticmethod
    def _write(path: Path, vectors: F32) -> None:
        """Atomically: a process reading at the same time sees the whole file or none."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        with partial.open("wb") as out:
            np.save(out, vectors, allow_pickle=False)
        os.replace(partial, path)
