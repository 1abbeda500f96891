"""Waiting until published documents are searchable, for start-up scripts, tests and
benchmarks that publish a knowledge base and then ask about it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from services.retrieval.stores import VectorStore
from shared.contracts import DocumentEvent


async def wait_until_indexed(
    store: VectorStore,
    documents: Sequence[DocumentEvent],
    timeout_s: float,
    *,
    poll_s: float = 0.5,
    check: Callable[[], None] = lambda: None,
) -> None:
    """Return once the store serves every document (at its published version, when given).

    `check` runs on every poll and may raise to give up early (a service process died).
    """
    deadline = time.monotonic() + timeout_s
    while True:
        check()
        versions = [await store.document_version(d.tenant_id, d.document_id) for d in documents]
        if all(
            found is not None and (not d.version or found == d.version)
            for d, found in zip(documents, versions, strict=True)
        ):
            return
        if time.monotonic() > deadline:
            missing = [
                d.document_id for d, found in zip(documents, versions, strict=True) if found is None
            ]
            raise TimeoutError(f"not indexed within {timeout_s} s: {missing}")
        await asyncio.sleep(poll_s)
