"""`make bench-memory`: memory read/write latency per store, through the `MemoryStore`
interface as services call it, one operation at a time.

Stores: SQLite (a file in a temporary directory), and real PostgreSQL and Redis servers
started on loopback for the run (as the tests start them). Per store: history append (a
user and an assistant turn, as the gateway appends), history read of the newest 20 turns,
fact upsert and fact read (a user's facts). Every write redacts first (the name model runs
on each text): the "redaction only" row is that share, for reference.

Example: `python -m benchmarks.memory --operations 1000 --output /tmp/memory.json`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

from benchmarks.render import table
from benchmarks.stats import spread_ms
from shared.config import repo_root
from shared.contracts import Turn
from shared.memory import MemoryRetention, MemoryStore, PostgresMemory, RedisMemory, SqliteMemory
from shared.memory._redaction import redacted_free_text
from shared.testing import PostgresServer, RedisServer

STORES = ("sqlite", "postgres", "redis")
RETENTION = MemoryRetention.uniform(timedelta(days=1))
TENANT = "bench"
TURNS_PER_SESSION = 200
USERS = 50
FACT_KEYS = ("language", "currency", "tone", "channel", "timezone")
QUESTION = "Where is my order ORD-5001? It was due on Monday and the tracking page is empty."
REPLY = "Order ORD-5001 left the warehouse yesterday; the carrier expects to deliver tomorrow."
WARM_UP = 20


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operations", type=int, default=1000, help="per operation and store")
    parser.add_argument("--stores", nargs="+", choices=STORES, default=list(STORES))
    parser.add_argument("--output", type=Path, default=repo_root() / "bench/results/memory.json")
    return parser


async def _timed(count: int, operation: Callable[[int], Awaitable[object]]) -> list[int]:
    for n in range(WARM_UP):
        await operation(n)
    durations_us = []
    for n in range(count):
        started = time.perf_counter_ns()
        await operation(n)
        durations_us.append((time.perf_counter_ns() - started) // 1000)
    return durations_us


async def _measure(memory: MemoryStore, count: int) -> dict[str, dict[str, Any]]:
    exchange = [Turn(role="user", content=QUESTION), Turn(role="assistant", content=REPLY)]
    appends_per_session = TURNS_PER_SESSION // 2

    async def append(n: int) -> object:
        session = f"s{n // appends_per_session}"
        return await memory.append_turns(TENANT, session, f"r{n}", exchange)

    async def read_last_20(n: int) -> object:
        return await memory.turns(TENANT, f"s{n % max(1, count // appends_per_session)}", last=20)

    async def upsert_fact(n: int) -> object:
        key = FACT_KEYS[n % len(FACT_KEYS)]
        return await memory.upsert_fact(
            TENANT, f"u{n % USERS}", key, f"prefers {key} {n}", request_id=f"r{n}"
        )

    async def read_facts(n: int) -> object:
        return await memory.facts(TENANT, f"u{n % USERS}")

    operations = {
        "history append (2 turns)": append,
        "history read last 20": read_last_20,
        "fact upsert": upsert_fact,
        "fact read (user's facts)": read_facts,
    }
    return {
        name: {"operations": count, **spread_ms(await _timed(count, operation), (50, 95, 99))}
        for name, operation in operations.items()
    }


async def _redaction_only(count: int) -> dict[str, Any]:
    async def redact(n: int) -> object:
        return await redacted_free_text([QUESTION, REPLY])

    return {"operations": count, **spread_ms(await _timed(count, redact), (50, 95, 99))}


def _open(kind: str, servers: dict[str, str], workdir: Path) -> MemoryStore:
    if kind == "sqlite":
        return SqliteMemory(workdir / "memory.sqlite3", RETENTION)
    if kind == "postgres":
        return PostgresMemory(servers["postgres"], RETENTION)
    return RedisMemory(servers["redis"], RETENTION, key_prefix=f"bench:{os.getpid()}")


async def run(args: argparse.Namespace, servers: dict[str, str], workdir: Path) -> dict[str, Any]:
    stores: dict[str, Any] = {}
    for kind in args.stores:
        memory = _open(kind, servers, workdir)
        try:
            stores[kind] = await _measure(memory, args.operations)
        finally:
            await memory.close()
        print(f"  {kind}: done", flush=True)
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "operations_per_row": args.operations,
        "stores": stores,
        "redaction_only_2_texts": await _redaction_only(args.operations),
    }


def _render(results: dict[str, Any]) -> str:
    rows = [
        [kind, name, figures["p50"], figures["p95"], figures["p99"]]
        for kind, operations in results["stores"].items()
        for name, figures in operations.items()
    ]
    redaction = results["redaction_only_2_texts"]
    rows.append(
        ["(any)", "redaction only (2 texts)", *(redaction[q] for q in ("p50", "p95", "p99"))]
    )
    return table(["store", "operation", "p50 ms", "p95 ms", "p99 ms"], rows)


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.operations < 100:
        raise SystemExit("--operations must be at least 100 for p95 to mean something")
    print(f"memory stores {', '.join(args.stores)}: {args.operations} operations each, serial")
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="conduit-bench-") as workdir:
        servers: dict[str, str] = {}
        if "postgres" in args.stores:
            servers["postgres"] = stack.enter_context(PostgresServer()).url
        if "redis" in args.stores:
            servers["redis"] = stack.enter_context(RedisServer()).url
        results = asyncio.run(run(args, servers, Path(workdir)))
    print(_render(results))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results written to {args.output}")


if __name__ == "__main__":
    main()
