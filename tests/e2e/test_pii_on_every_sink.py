"""A conversation full of personal data, asked through the gateway of six service processes
over the real Kafka broker with spans exported to the real Jaeger and the PII vault on:
afterwards no topic (ingest and audit included), log, span in Jaeger or store on disk holds
any of it, though a tool was handed the real email address it needed."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from conduit.stack import ServiceProcesses
from services.catalog import SERVICE_NAMES
from shared.bus import Topics
from shared.pii.sealing import VaultKeys
from shared.pii.tokens import TOKEN_PATTERN
from shared.testing import JaegerServer, KafkaServer
from tests.e2e.conftest import GatewayProcess, describe, telemetry_to_jaeger

pytestmark = [pytest.mark.kafka, pytest.mark.jaeger, pytest.mark.e2e, pytest.mark.timeout(300)]

EMAIL = "jane.roe@example.org"
CARD = "4000 0566 5566 5556"
PHONE = "+1 415 555 0132"
# A customer of the demo company (config/demo/business.sql): a tool needs her real address.
CUSTOMER_EMAIL = "grace@example.com"
# Each value as it might be written anywhere: as typed, and digits or characters alone.
FORBIDDEN = {
    EMAIL: [EMAIL],
    CARD: [CARD, CARD.replace(" ", "")],
    PHONE: [PHONE, "4155550132"],
    CUSTOMER_EMAIL: [CUSTOMER_EMAIL],
}
# The company's own system of record holds its customers' addresses: not a conduit sink.
COMPANY_DATABASE = re.compile(r"tool-executor/business\.sqlite3(-wal|-shm)?$")
READ_TIMEOUT_S = 30.0
QUIET_S = 3.0
SPANS_TIMEOUT_S = 60.0
VAULT_KEYS = VaultKeys.generate()


@pytest.fixture
def stack_env(jaeger_server: JaegerServer, run_id: str) -> dict[str, str]:
    """Every process exports its spans to Jaeger and seals personal data to the vault."""
    return {
        **telemetry_to_jaeger(jaeger_server, run_id),
        "CONDUIT_PII_VAULT_PUBLIC_KEY": VAULT_KEYS.public_text(),
    }


@pytest.fixture
def service_env() -> dict[str, dict[str, str]]:
    """Only the tool-executor holds the vault's private key."""
    private_key = {"CONDUIT_TOOL_EXECUTOR_PII_VAULT_PRIVATE_KEY": VAULT_KEYS.private_text()}
    return {"tool-executor": private_key}


async def _every_record(kafka_server: KafkaServer, topics: Topics) -> dict[str, list[bytes]]:
    """Key, value and headers of every record on this run's topics, by topic."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_server.bootstrap_servers, enable_auto_commit=False
    )
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()  # every topic's partitions
        names = [t for t in cluster.topics() if t.startswith(f"{topics.prefix}.")]
        partitions = [
            TopicPartition(name, partition)
            for name in names
            for partition in cluster.partitions_for_topic(name) or ()
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: dict[str, list[bytes]] = {name: [] for name in names}
        # Read until nothing new comes for a while: the run's records are all written by now.
        deadline = time.monotonic() + READ_TIMEOUT_S
        quiet_since: float | None = None  # from the first record on
        while time.monotonic() < deadline and (
            quiet_since is None or time.monotonic() - quiet_since < QUIET_S
        ):
            batches = await consumer.getmany(timeout_ms=500)
            for tp, messages in batches.items():
                quiet_since = time.monotonic()
                records[tp.topic] += [
                    (m.key or b"") + m.value + b"".join(value for _, value in m.headers)
                    for m in messages
                ]
        return records
    finally:
        await consumer.stop()


def _leaks(blob: bytes) -> list[str]:
    return [value for value, forms in FORBIDDEN.items() if any(f.encode() in blob for f in forms)]


def _is_this_run(trace: dict[str, Any], run_id: str) -> bool:
    return any(
        tag["key"] == "conduit.test_run" and tag["value"] == run_id
        for process in trace["processes"].values()
        for tag in process["tags"]
    )


async def _spans_in_jaeger(jaeger: JaegerServer, run_id: str) -> dict[str, list[dict[str, Any]]]:
    """This run's spans in Jaeger by service, once every service's have arrived."""
    deadline = time.monotonic() + SPANS_TIMEOUT_S
    spans: dict[str, list[dict[str, Any]]] = {}
    while time.monotonic() < deadline:
        spans = {}
        for service in await asyncio.to_thread(jaeger.services):
            traces = await asyncio.to_thread(jaeger.traces, service, limit=1000)
            for trace in traces:
                if _is_this_run(trace, run_id):
                    for span in trace["spans"]:
                        name = trace["processes"][span["processID"]]["serviceName"]
                        spans.setdefault(name, []).append(span)
        if set(SERVICE_NAMES) <= set(spans):
            return spans
        await asyncio.sleep(1)
    return spans


async def test_no_topic_log_span_or_store_holds_the_callers_personal_data(
    gateway: GatewayProcess,
    stack: ServiceProcesses,
    kafka_server: KafkaServer,
    jaeger_server: JaegerServer,
    run_id: str,
    topics: Topics,
    tmp_path: Path,
) -> None:
    reply = await gateway.http.post(
        "/v1/ask",
        json={
            "text": f"I was charged twice for invoice INV-1001, please refund me. "
            f"I'm {EMAIL}, my card is {CARD}, call me on {PHONE}.",
            "session_id": "pii-sinks",
            "history": [{"role": "user", "content": f"My email is {EMAIL} and phone {PHONE}"}],
        },
        headers=gateway.auth(),
    )
    assert reply.status_code == 200, f"{reply.status_code} {reply.text}\n{describe(stack)}"
    orders = await gateway.http.post(
        "/v1/ask",
        json={"text": f"Where is my order? My email is {CUSTOMER_EMAIL}", "session_id": "pii-2"},
        headers=gateway.auth(),
    )
    assert orders.status_code == 200, f"{orders.status_code} {orders.text}\n{describe(stack)}"
    # ORD-5003 is Grace's order: only her real address, opened by the vault, finds it.
    assert "ORD-5003" in orders.json()["answer"]["text"], (
        f"the order lookup by email did not get the address: {orders.text}"
    )
    history = await gateway.http.get("/v1/sessions/pii-sinks/history", headers=gateway.auth())
    assert history.status_code == 200, history.text
    assert not _leaks(history.content), f"the history endpoint returns {_leaks(history.content)}"

    records = await _every_record(kafka_server, topics)
    spans = await _spans_in_jaeger(jaeger_server, run_id)
    stack.stop_all()  # flushes every process's logs to disk

    assert records[topics.ingest], "the request never reached the ingest topic"
    assert any(
        TOKEN_PATTERN.search(record.decode("latin-1")) for record in records[topics.ingest]
    ), "the ingest topic should hold the request with vault tokens"
    for topic, blobs in records.items():
        leaked = sorted({value for blob in blobs for value in _leaks(blob)})
        assert not leaked, f"topic {topic} holds {leaked}"
    assert set(SERVICE_NAMES) <= set(spans), f"spans in Jaeger only from {sorted(spans)}"
    for service, service_spans in spans.items():
        leaked = _leaks(json.dumps(service_spans).encode())
        assert not leaked, f"{service}'s spans in Jaeger hold {leaked}"
    files = await asyncio.to_thread(_files_with_what_they_leak, tmp_path)
    assert any(path.suffix == ".log" for path in files), "no service logs to scan"
    leaking = {
        str(path): leaked
        for path, leaked in files.items()
        if leaked and not COMPANY_DATABASE.search(path.as_posix())
    }
    assert not leaking, f"files under the data dir hold personal data: {leaking}"


def _files_with_what_they_leak(root: Path) -> dict[Path, list[str] | None]:
    """Every file under `root` (relative) with the values it holds; None when it is empty."""
    found: dict[Path, list[str] | None] = {}
    for path in root.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            found[path.relative_to(root)] = _leaks(content) if content else None
    return found
