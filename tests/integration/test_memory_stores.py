"""One contract for every memory store, run against SQLite (a file), and the real
PostgreSQL and Redis servers started by the test setup.

Each test works in tenants of its own, so the session-wide servers need no cleaning.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from redis.asyncio import Redis

from shared.contracts import Turn
from shared.memory import (
    MemoryRetention,
    MemoryStore,
    MemoryUnavailable,
    PostgresMemory,
    RedisMemory,
    RetentionOverrides,
    SessionSummary,
    SqliteMemory,
    TaskStateConflict,
)
from shared.testing._process import free_ports

pytestmark = pytest.mark.timeout(120)

KEPT = MemoryRetention.uniform(timedelta(hours=1))
SHORT = timedelta(milliseconds=400)
EXPIRY_WAIT_S = 5.0
DOWN_TIMEOUT_S = 1.0
REDIS_PREFIX = f"test-memory-{uuid.uuid4().hex[:8]}"

STORES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    pytest.param("redis", id="redis", marks=pytest.mark.redis),
]


@dataclass
class Harness:
    """Opens stores of one kind (closed after the test) and reads what they stored, raw."""

    kind: str
    open: Callable[[MemoryRetention], MemoryStore]
    raw_text: Callable[[], Awaitable[str]]
    rows_of_tenant: Callable[[str], Awaitable[int]]


def new_tenant() -> str:
    return f"tenant-{uuid.uuid4().hex[:12]}"


def turns(*contents: str) -> list[Turn]:
    return [
        Turn(role="user" if n % 2 == 0 else "assistant", content=c) for n, c in enumerate(contents)
    ]


@pytest.fixture(params=STORES)
async def harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    kind: str = request.param
    opened: list[MemoryStore] = []
    sqlite_path = tmp_path / "memory.sqlite3"
    server_url = ""
    if kind == "postgres":
        server_url = request.getfixturevalue("postgres_server").url
    elif kind == "redis":
        server_url = request.getfixturevalue("redis_server").url

    def open_store(retention: MemoryRetention) -> MemoryStore:
        store: MemoryStore
        if kind == "sqlite":
            store = SqliteMemory(sqlite_path, retention)
        elif kind == "postgres":
            store = PostgresMemory(server_url, retention)
        else:
            store = RedisMemory(server_url, retention, key_prefix=REDIS_PREFIX)
        opened.append(store)
        return store

    async def raw_text() -> str:
        if kind == "sqlite":
            return await asyncio.to_thread(_sqlite_file_text, tmp_path)
        if kind == "postgres":
            return await _postgres_dump(server_url)
        return await _redis_dump(server_url)

    async def rows_of_tenant(tenant: str) -> int:
        if kind == "sqlite":
            return await asyncio.to_thread(_sqlite_rows, sqlite_path, tenant)
        if kind == "postgres":
            return await _postgres_rows(server_url, tenant)
        return 0

    yield Harness(kind, open_store, raw_text, rows_of_tenant)
    for store in opened:
        await store.close()


SQL_TABLES = ("memory_sessions", "memory_turns", "memory_summaries", "memory_facts", "memory_tasks")


def _sqlite_file_text(directory: Path) -> str:
    """The database file and its write-ahead log, as text."""
    files = sorted(directory.glob("memory.sqlite3*"))
    return "".join(path.read_bytes().decode("utf-8", "replace") for path in files)


def _sqlite_rows(path: Path, tenant: str) -> int:
    with sqlite3.connect(path) as db:
        return sum(
            db.execute(f"SELECT COUNT(*) FROM {table} WHERE tenant_id = ?", (tenant,)).fetchone()[0]
            for table in SQL_TABLES
        )


async def _postgres_rows(url: str, tenant: str) -> int:
    async with await psycopg.AsyncConnection.connect(url) as db:
        total = 0
        for table in SQL_TABLES:
            cursor = await db.execute(
                f"SELECT COUNT(*) FROM {table} WHERE tenant_id = %s", (tenant,)
            )
            row = await cursor.fetchone()
            total += 0 if row is None else int(row[0])
        return total


async def _postgres_dump(url: str) -> str:
    tables = ("memory_turns", "memory_summaries", "memory_facts", "memory_tasks")
    async with await psycopg.AsyncConnection.connect(url) as db:
        rows = []
        for table in tables:
            cursor = await db.execute(f"SELECT * FROM {table}")
            rows += [repr(row) for row in await cursor.fetchall()]
    return "\n".join(rows)


async def _redis_dump(url: str) -> str:
    client = Redis.from_url(url, decode_responses=True)
    try:
        values: list[str] = []
        async for key in client.scan_iter(match=f"{REDIS_PREFIX}:*"):
            kind = await client.type(key)
            if kind == "string":
                values.append(str(await client.get(key)))
            elif kind == "hash":
                values.append(repr(await client.hgetall(key)))
            elif kind == "list":
                values.append(repr(await client.lrange(key, 0, -1)))
        return "\n".join(values)
    finally:
        await client.aclose()


async def wait_while(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + EXPIRY_WAIT_S
    while await condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} still true after {EXPIRY_WAIT_S}s")
        await asyncio.sleep(0.1)


async def test_turns_come_back_oldest_first_numbered_from_zero(harness: Harness) -> None:
    memory, tenant = harness.open(KEPT), new_tenant()

    first = await memory.append_turns(tenant, "s1", "r1", turns("Hi", "Hello"))
    second = await memory.append_turns(tenant, "s1", "r2", turns("Order?", "Shipped"))

    stored = await memory.turns(tenant, "s1")
    assert (first, second) == ([0, 1], [2, 3]), "appends should be numbered after each other"
    assert [(t.seq, t.content, t.request_id) for t in stored] == [
        (0, "Hi", "r1"),
        (1, "Hello", "r1"),
        (2, "Order?", "r2"),
        (3, "Shipped", "r2"),
    ], stored


async def test_last_n_is_the_newest_n_turns_in_order(harness: Harness) -> None:
    memory, tenant = harness.open(KEPT), new_tenant()
    await memory.append_turns(tenant, "s1", "r1", turns(*[f"turn {n}" for n in range(10)]))

    newest = await memory.turns(tenant, "s1", last=3)

    assert [(t.seq, t.content) for t in newest] == [(7, "turn 7"), (8, "turn 8"), (9, "turn 9")]


async def test_concurrent_appenders_get_distinct_gapless_numbers(harness: Harness) -> None:
    writers = [harness.open(KEPT) for _ in range(4)]  # separate connections / clients
    tenant = new_tenant()

    async def append(writer: int, round_: int) -> list[int]:
        request = f"w{writer}-r{round_}"
        pair = [Turn(role="user", content=request), Turn(role="assistant", content=request)]
        return await writers[writer].append_turns(tenant, "busy", request, pair)

    numbers = await asyncio.gather(*(append(w, r) for w in range(4) for r in range(6)))

    assert sorted(n for pair in numbers for n in pair) == list(range(48)), numbers
    assert all(pair[1] == pair[0] + 1 for pair in numbers), f"an append was split: {numbers}"
    stored = await writers[0].turns(tenant, "busy")
    assert [t.seq for t in stored] == list(range(48)), "turns should come back in number order"
    assert all(stored[n].content == stored[n + 1].content for n in range(0, 48, 2)), stored


async def test_a_fact_upsert_replaces_the_value_and_records_its_request(
    harness: Harness,
) -> None:
    memory, tenant = harness.open(KEPT), new_tenant()

    await memory.upsert_fact(tenant, "ann", "language", "English", request_id="r1")
    await memory.upsert_fact(tenant, "ann", "language", "Dutch", request_id="r2")

    (fact,) = await memory.facts(tenant, "ann")
    assert (fact.key, fact.value, fact.request_id) == ("language", "Dutch", "r2"), fact
    assert fact.at_unix_ms > 0, fact


async def test_facts_are_listed_by_key_and_deleted_one_at_a_time(harness: Harness) -> None:
    memory, tenant = harness.open(KEPT), new_tenant()
    for key in ("tone", "currency", "language"):
        await memory.upsert_fact(tenant, "ann", key, f"{key} value", request_id="r1")

    deleted = await memory.delete_fact(tenant, "ann", "currency")
    deleted_again = await memory.delete_fact(tenant, "ann", "currency")

    assert [f.key for f in await memory.facts(tenant, "ann")] == ["language", "tone"]
    assert (deleted, deleted_again) == (True, False), "delete reports whether the fact existed"


async def test_task_state_versions_count_the_writes(harness: Harness) -> None:
    memory, tenant = harness.open(KEPT), new_tenant()

    created = await memory.put_task_state(tenant, "refund-1", {"step": 1}, expected_version=0)
    updated = await memory.put_task_state(tenant, "refund-1", {"step": 2}, expected_version=1)

    stored = await memory.task_state(tenant, "refund-1")
    assert (created.version, updated.version) == (1, 2)
    assert stored is not None, "the task state was not stored"
    assert (stored.document, stored.version) == ({"step": 2}, 2), stored


async def test_a_task_state_write_from_a_stale_version_is_refused(harness: Harness) -> None:
    memory, tenant = harness.open(KEPT), new_tenant()
    await memory.put_task_state(tenant, "refund-1", {"step": 1}, expected_version=0)
    await memory.put_task_state(tenant, "refund-1", {"step": 2}, expected_version=1)

    with pytest.raises(TaskStateConflict) as conflict:
        await memory.put_task_state(tenant, "refund-1", {"step": "stale"}, expected_version=1)

    assert (conflict.value.expected, conflict.value.actual) == (1, 2), conflict.value
    stored = await memory.task_state(tenant, "refund-1")
    assert stored is not None, "the task state vanished"
    assert stored.document == {"step": 2}, "the stale write went in"


async def test_of_two_workers_writing_the_same_version_exactly_one_wins(harness: Harness) -> None:
    workers = [harness.open(KEPT) for _ in range(2)]
    tenant = new_tenant()
    await workers[0].put_task_state(tenant, "job", {"owner": None}, expected_version=0)

    outcomes = await asyncio.gather(
        *(
            worker.put_task_state(tenant, "job", {"owner": n}, expected_version=1)
            for n, worker in enumerate(workers)
        ),
        return_exceptions=True,
    )

    conflicts = [o for o in outcomes if isinstance(o, TaskStateConflict)]
    assert len(conflicts) == 1, f"expected one winner and one conflict: {outcomes}"


async def test_a_new_task_state_cannot_be_created_twice(harness: Harness) -> None:
    memory, tenant = harness.open(KEPT), new_tenant()
    await memory.put_task_state(tenant, "job", {"n": 1}, expected_version=0)

    with pytest.raises(TaskStateConflict):
        await memory.put_task_state(tenant, "job", {"n": 2}, expected_version=0)


async def test_a_session_summary_is_stored_with_the_turn_it_covers(harness: Harness) -> None:
    memory, tenant = harness.open(KEPT), new_tenant()
    await memory.append_turns(tenant, "s1", "r1", turns("a", "b", "c"))

    before = await memory.summary(tenant, "s1")
    await memory.put_summary(tenant, "s1", SessionSummary(text="They greeted.", through_seq=1))

    assert before is None, before
    assert await memory.summary(tenant, "s1") == SessionSummary("They greeted.", 1)


async def test_one_tenant_sees_nothing_of_another(harness: Harness) -> None:
    memory, ours, theirs = harness.open(KEPT), new_tenant(), new_tenant()
    await memory.append_turns(theirs, "s1", "r1", turns("secret plan"))
    await memory.put_summary(theirs, "s1", SessionSummary("secret", 0))
    await memory.upsert_fact(theirs, "ann", "plan", "secret", request_id="r1")
    await memory.put_task_state(theirs, "job", {"plan": "secret"}, expected_version=0)

    seen = (
        await memory.turns(ours, "s1"),
        await memory.summary(ours, "s1"),
        await memory.facts(ours, "ann"),
        await memory.task_state(ours, "job"),
    )

    assert seen == ([], None, [], None), seen
    assert [n for n in await memory.append_turns(ours, "s1", "r2", turns("x"))] == [0], (
        "another tenant's session must not advance this one's numbering"
    )


async def test_history_expires_after_the_tenants_retention(harness: Harness) -> None:
    tenant = new_tenant()
    retention = MemoryRetention(
        default=KEPT.default, tenants={tenant: RetentionOverrides(history=SHORT)}
    )
    memory = harness.open(retention)
    await memory.append_turns(tenant, "s1", "r1", turns("short-lived"))
    await memory.put_summary(tenant, "s1", SessionSummary("short-lived", 0))
    await memory.append_turns(tenant_kept := new_tenant(), "s1", "r1", turns("long-lived"))

    async def has_history() -> bool:
        return (
            bool(await memory.turns(tenant, "s1")) or await memory.summary(tenant, "s1") is not None
        )

    await wait_while(has_history, "the tenant's history")
    assert len(await memory.turns(tenant_kept, "s1")) == 1, "the default retention was cut short"
    assert await memory.append_turns(tenant, "s1", "r2", turns("again")) == [0], (
        "an expired session should start numbering afresh"
    )


async def test_facts_and_task_state_expire_after_their_retention(harness: Harness) -> None:
    retention = MemoryRetention.uniform(SHORT)
    memory, tenant = harness.open(retention), new_tenant()
    await memory.upsert_fact(tenant, "ann", "language", "Dutch", request_id="r1")
    await memory.put_task_state(tenant, "job", {"step": 1}, expected_version=0)

    async def anything_left() -> bool:
        return (
            bool(await memory.facts(tenant, "ann"))
            or await memory.task_state(tenant, "job") is not None
        )

    await wait_while(anything_left, "facts or task state")
    created = await memory.put_task_state(tenant, "job", {"step": 1}, expected_version=0)
    assert created.version == 1, "an expired task state should be created afresh"


async def test_the_sweep_deletes_expired_rows_of_the_sql_stores(harness: Harness) -> None:
    memory, tenant = harness.open(MemoryRetention.uniform(SHORT)), new_tenant()
    await memory.append_turns(tenant, "s1", "r1", turns("sweep-me-turn"))
    await memory.upsert_fact(tenant, "ann", "k", "sweep-me-fact", request_id="r1")
    await asyncio.sleep(SHORT.total_seconds() + 0.2)

    deleted = await memory.prune_expired()

    if harness.kind == "redis":
        assert deleted == 0, "Redis expires keys itself: nothing to sweep"
    else:
        assert deleted >= 3, f"expected the turn, its session and the fact to go: {deleted}"
        assert await harness.rows_of_tenant(tenant) == 0, "an expired row is still stored"


async def test_personal_data_is_stored_redacted_everywhere(harness: Harness) -> None:
    memory, tenant = harness.open(KEPT), new_tenant()
    email, card, name = "jane.roe@example.com", "4111 1111 1111 1111", "Jane Roe"
    text = f"I am {name}, mail {email}, card {card}"
    await memory.append_turns(tenant, "s1", "r1", [Turn(role="user", content=text)])
    await memory.put_summary(tenant, "s1", SessionSummary(f"{name} asked ({email})", 0))
    await memory.upsert_fact(tenant, "jane", "contact", f"{name}, {email}", request_id="r1")
    await memory.put_task_state(tenant, "job", {"notify": email, "card": card}, expected_version=0)

    raw = await harness.raw_text()
    stored = await memory.turns(tenant, "s1")

    leaked = [value for value in (email, card, name) if value in raw]
    assert not leaked, f"{harness.kind} holds personal data in clear: {leaked}"
    assert "[EMAIL]" in stored[0].content, stored[0]
    assert "[NAME]" in stored[0].content, stored[0]


def store_that_is_down(kind: str, tmp_path: Path) -> MemoryStore:
    """SQLite in a directory that cannot exist; the servers on a port nothing listens on."""
    (closed_port,) = free_ports(1)
    if kind == "sqlite":
        (tmp_path / "a-file").write_text("")
        return SqliteMemory(tmp_path / "a-file" / "memory.sqlite3", KEPT)
    if kind == "postgres":
        url = f"postgresql://conduit@127.0.0.1:{closed_port}/conduit"
        return PostgresMemory(url, KEPT, timeout_s=DOWN_TIMEOUT_S)
    url = f"redis://127.0.0.1:{closed_port}/0"
    return RedisMemory(url, KEPT, timeout_s=DOWN_TIMEOUT_S)


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "redis"])
async def test_a_store_that_is_down_raises_memory_unavailable_quickly(
    kind: str, tmp_path: Path
) -> None:
    memory = store_that_is_down(kind, tmp_path)
    started = time.monotonic()
    try:
        with pytest.raises(MemoryUnavailable) as down:
            await memory.turns("acme", "s1", last=20)
    finally:
        await memory.close()

    elapsed = time.monotonic() - started
    assert down.value.store == kind, down.value
    assert elapsed < DOWN_TIMEOUT_S + 2, f"{kind} took {elapsed:.1f}s to report it is down"
