"""`make bench-retrieval`: retrieval quality and speed of the embedded and Weaviate stores.

Indexes the labelled stdlib-documentation corpus (`benchmarks.retrieval_corpus`: one chunk
per passage, questions by the inverse cloze task) into each store and asks every question
by vector, BM25 and hybrid search. Quality: recall@5 and MRR@10 of the one relevant chunk.
Speed: ingest throughput (embedding and store upsert apart, then together) and the store's
search latency, query embedding excluded, one query at a time and then several at once.

Example: `python -m benchmarks.retrieval --stores embedded --alpha 0.7`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.render import table
from benchmarks.retrieval_corpus import (
    CorpusDocument,
    RetrievalCorpus,
    build_corpus,
    source_id,
)
from benchmarks.stats import spread_ms
from services.retrieval.stores import (
    ChunkRecord,
    EmbeddedStore,
    SearchHit,
    SearchMode,
    SearchQuery,
    VectorStore,
    WeaviateStore,
)
from shared.config import repo_root
from shared.embeddings import default_embedder
from shared.embeddings.embedder import F32, Embedder
from shared.testing import WeaviateServer

STORES = ("embedded", "weaviate")
MODES: tuple[SearchMode, ...] = ("vector", "bm25", "hybrid")
EMBEDDING_MODEL = "all-MiniLM-L6-v2 (384-d, pure NumPy)"
TENANT = "bench"
VERSION = "1"
RECALL_AT = 5
MRR_AT = 10
EMBED_BATCH = 64
# Upserts in flight at once: Weaviate is not measured one round trip at a time.
UPSERT_CONCURRENCY = 16
# Untimed searches per mode first: the embedded store builds its BM25 index on first use.
WARMUP_QUERIES = 50


@dataclass(frozen=True)
class EmbeddedCorpus:
    """The corpus with its vectors, embedded once and shared by every store."""

    corpus: RetrievalCorpus
    passage_vectors: F32
    question_vectors: F32
    passages_s: float
    questions_s: float


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.retrieval", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--stores", choices=STORES, nargs="+", default=list(STORES))
    parser.add_argument("--alpha", type=_fraction, default=0.5, help="hybrid weight of vectors")
    parser.add_argument(
        "--concurrency", type=_positive, default=8, help="searches in flight for throughput"
    )
    parser.add_argument("--output", type=Path, default=repo_root() / "bench/results/retrieval.json")
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be within [0, 1], got {value}")
    return value


def embed_corpus(corpus: RetrievalCorpus, embedder: Embedder) -> EmbeddedCorpus:
    embedder.warm_up()
    passages, passages_s = _timed(lambda: _embed([d.text for d in corpus.documents], embedder))
    questions, questions_s = _timed(lambda: _embed([q.text for q in corpus.questions], embedder))
    return EmbeddedCorpus(corpus, passages, questions, passages_s, questions_s)


def _embed(texts: Sequence[str], embedder: Embedder) -> F32:
    batches = [
        embedder.embed(texts[i : i + EMBED_BATCH]) for i in range(0, len(texts), EMBED_BATCH)
    ]
    return np.concatenate(batches)


def _timed(work: Callable[[], F32]) -> tuple[F32, float]:
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


@asynccontextmanager
async def open_store(name: str, dimension: int) -> AsyncIterator[VectorStore]:
    """A started, empty store of the given kind; its server and files go when done."""
    async with AsyncExitStack() as stack:
        store: VectorStore
        if name == "embedded":
            root = stack.enter_context(tempfile.TemporaryDirectory(prefix="conduit-bench-"))
            store = EmbeddedStore(Path(root), dimension=dimension)
        else:
            server = WeaviateServer()
            await asyncio.to_thread(server.start)
            stack.push_async_callback(asyncio.to_thread, server.close)
            store = WeaviateStore(
                http_host="127.0.0.1",
                http_port=server.http_port,
                grpc_port=server.grpc_port,
                collection="BenchChunk",
            )
        await store.start()
        stack.push_async_callback(store.close)
        yield store


async def ingest(store: VectorStore, documents: Sequence[CorpusDocument], vectors: F32) -> float:
    """Seconds to upsert every passage as a one-chunk document, some upserts in flight."""
    slots = asyncio.Semaphore(UPSERT_CONCURRENCY)

    async def upsert(row: int, document: CorpusDocument) -> None:
        record = ChunkRecord(
            source_id=source_id(document.document_id),
            document_id=document.document_id,
            title=document.title,
            heading="",
            text=document.text,
            version=VERSION,
        )
        async with slots:
            await store.upsert(TENANT, document.document_id, [record], vectors[row : row + 1])

    started = time.perf_counter()
    await asyncio.gather(*(upsert(row, document) for row, document in enumerate(documents)))
    return time.perf_counter() - started


def rank_of(relevant_source_id: str, hits: Sequence[SearchHit]) -> int | None:
    """1-based rank of the relevant chunk among the hits, None if absent."""
    for rank, hit in enumerate(hits, start=1):
        if hit.record.source_id == relevant_source_id:
            return rank
    return None


async def evaluate_mode(
    store: VectorStore,
    embedded: EmbeddedCorpus,
    mode: SearchMode,
    *,
    alpha: float,
    concurrency: int,
) -> dict[str, Any]:
    questions = embedded.corpus.questions
    queries = [
        SearchQuery(q.text, vector, top_k=MRR_AT, mode=mode, alpha=alpha)
        for q, vector in zip(questions, embedded.question_vectors, strict=True)
    ]
    for query in queries[:WARMUP_QUERIES]:
        await store.search(TENANT, query)
    ranks: list[int | None] = []
    latencies_us: list[int] = []
    for query, question in zip(queries, questions, strict=True):
        started = time.perf_counter_ns()
        hits = await store.search(TENANT, query)
        latencies_us.append((time.perf_counter_ns() - started) // 1000)
        ranks.append(rank_of(question.relevant_source_id, hits))
    return {
        "mode": mode,
        "alpha": alpha if mode == "hybrid" else None,
        f"recall_at_{RECALL_AT}": round(_recall(ranks, RECALL_AT), 4),
        f"mrr_at_{MRR_AT}": round(_mrr(ranks), 4),
        f"found_in_top_{MRR_AT}": sum(rank is not None for rank in ranks),
        "latency_ms": spread_ms(latencies_us, (50, 95, 99)),
        "concurrency": concurrency,
        "throughput_qps": round(await _throughput(store, queries, concurrency), 1),
    }


def _recall(ranks: Sequence[int | None], k: int) -> float:
    return sum(rank is not None and rank <= k for rank in ranks) / len(ranks)


def _mrr(ranks: Sequence[int | None]) -> float:
    return sum(1 / rank for rank in ranks if rank is not None) / len(ranks)


async def _throughput(store: VectorStore, queries: Sequence[SearchQuery], workers: int) -> float:
    """Searches per second with `workers` searches in flight, every query once."""
    pending = iter(queries)

    async def worker() -> None:
        for query in pending:
            await store.search(TENANT, query)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return len(queries) / (time.perf_counter() - started)


async def run_store(
    name: str, embedded: EmbeddedCorpus, *, alpha: float, concurrency: int
) -> dict[str, Any]:
    documents = embedded.corpus.documents
    load_before = os.getloadavg()
    async with open_store(name, embedded.passage_vectors.shape[1]) as store:
        upsert_s = await ingest(store, documents, embedded.passage_vectors)
        modes = [
            await evaluate_mode(store, embedded, mode, alpha=alpha, concurrency=concurrency)
            for mode in MODES
        ]
    chunks = len(documents)
    return {
        "store": name,
        "chunks": chunks,
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "ingest": {
            "upsert_concurrency": UPSERT_CONCURRENCY,
            "upsert_s": round(upsert_s, 3),
            "upsert_chunks_per_s": round(chunks / upsert_s, 1),
            "embed_s": round(embedded.passages_s, 3),
            "embed_chunks_per_s": round(chunks / embedded.passages_s, 1),
            "total_chunks_per_s": round(chunks / (embedded.passages_s + upsert_s), 1),
        },
        "modes": modes,
    }


def header(embedded: EmbeddedCorpus, alpha: float) -> str:
    corpus = embedded.corpus
    questions = len(corpus.questions)
    return "\n".join(
        [
            "=" * 88,
            f"CORPUS: {corpus.description}",
            f"  {len(corpus.documents)} passages (one chunk each); {questions} labelled "
            "questions (inverse cloze: one sentence, removed from its passage)",
            f"EMBEDDING: {EMBEDDING_MODEL}, batch {EMBED_BATCH}; passages "
            f"{len(corpus.documents) / embedded.passages_s:.1f}/s, questions "
            f"{questions / embedded.questions_s:.1f}/s (query embedding is excluded from "
            "search latency)",
            f"SEARCH: top {MRR_AT}; recall@{RECALL_AT}, MRR@{MRR_AT}; hybrid alpha {alpha} "
            "(1 = vector only)",
            f"MACHINE: {os.cpu_count()} CPUs, {platform.machine()}, Python "
            f"{platform.python_version()}; load average {_load(os.getloadavg())}",
            "=" * 88,
        ]
    )


def _load(averages: Sequence[float]) -> str:
    return " ".join(f"{x:.2f}" for x in averages)


def render_store(report: dict[str, Any]) -> str:
    ingest = report["ingest"]
    title = (
        f"=== {report['store']}: {report['chunks']} chunks; ingest: embed "
        f"{ingest['embed_chunks_per_s']} chunks/s, upsert {ingest['upsert_chunks_per_s']} "
        f"chunks/s ({ingest['upsert_concurrency']} in flight), total "
        f"{ingest['total_chunks_per_s']} chunks/s ===\n"
        f"  load average (1/5/15 min) before {_load(report['load_average']['before'])}, "
        f"after {_load(report['load_average']['after'])}"
    )
    return f"{title}\n{_quality_table([report], with_store=False)}"


def render_summary(reports: Sequence[dict[str, Any]]) -> str:
    ingest = table(
        ("store", "embed chunks/s", "upsert chunks/s", "total chunks/s"),
        [
            (
                r["store"],
                r["ingest"]["embed_chunks_per_s"],
                r["ingest"]["upsert_chunks_per_s"],
                r["ingest"]["total_chunks_per_s"],
            )
            for r in reports
        ],
    )
    return f"=== summary ===\n{_quality_table(reports, with_store=True)}\n\n{ingest}"


def _quality_table(reports: Sequence[dict[str, Any]], *, with_store: bool) -> str:
    concurrency = reports[0]["modes"][0]["concurrency"]
    headers = [
        *(["store"] if with_store else []),
        "mode", f"recall@{RECALL_AT}", f"MRR@{MRR_AT}", "p50 ms", "p95 ms", "p99 ms",
        f"q/s at {concurrency}",
    ]  # fmt: skip
    rows = [
        [
            *([r["store"]] if with_store else []),
            m["mode"],
            f"{m[f'recall_at_{RECALL_AT}']:.3f}",
            f"{m[f'mrr_at_{MRR_AT}']:.3f}",
            m["latency_ms"]["p50"],
            m["latency_ms"]["p95"],
            m["latency_ms"]["p99"],
            m["throughput_qps"],
        ]
        for r in reports
        for m in r["modes"]
    ]
    return table(headers, rows)


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    stores = list(dict.fromkeys(args.stores))
    corpus = build_corpus()
    embedder = default_embedder()
    print(f"embedding {len(corpus.documents)} passages and {len(corpus.questions)} questions ...")
    embedded = embed_corpus(corpus, embedder)
    print(header(embedded, args.alpha), flush=True)
    reports = []
    for name in stores:
        print(f"\nrunning {name} ...", flush=True)
        report = asyncio.run(
            run_store(name, embedded, alpha=args.alpha, concurrency=args.concurrency)
        )
        reports.append(report)
        print(render_store(report), flush=True)
    print(f"\n{render_summary(reports)}")
    results = {
        "corpus": {
            "source": corpus.description,
            "passages": len(corpus.documents),
            "questions": len(corpus.questions),
        },
        "embedding": {
            "model": EMBEDDING_MODEL,
            "batch": EMBED_BATCH,
            "passages_s": round(embedded.passages_s, 3),
            "questions_s": round(embedded.questions_s, 3),
        },
        "host": {
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
            "python": platform.python_version(),
        },
        "created_unix": int(time.time()),
        "stores": reports,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults written to {args.output}")


if __name__ == "__main__":
    main()
