"""A conversation full of personal data, asked through the gateway of six service processes
over the real Kafka broker with traces exported: afterwards no topic (ingest and audit
included), log, exported span or store on disk holds any of it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from conduit.stack import ServiceProcesses
from shared.bus import Topics
from shared.testing import KafkaServer
from tests.e2e.conftest import GatewayProcess, describe

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.timeout(300)]

EMAIL = "jane.roe@example.org"
CARD = "4000 0566 5566 5556"
PHONE = "+1 415 555 0132"
# Each value as it might be written anywhere: as typed, and digits or characters alone.
FORBIDDEN = {
    EMAIL: [EMAIL],
    CARD: [CARD, CARD.replace(" ", "")],
    PHONE: [PHONE, "4155550132"],
}
READ_TIMEOUT_S = 30.0
QUIET_S = 3.0


@pytest.fixture
def stack_env() -> dict[str, str]:
    """Every service exports its spans to `<data dir>/traces.jsonl`."""
    return {"CONDUIT_TRACES": "file"}


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


async def test_no_topic_log_span_or_store_holds_the_callers_personal_data(
    gateway: GatewayProcess,
    stack: ServiceProcesses,
    kafka_server: KafkaServer,
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
    history = await gateway.http.get("/v1/sessions/pii-sinks/history", headers=gateway.auth())
    assert history.status_code == 200, history.text
    assert not _leaks(history.content), f"the history endpoint returns {_leaks(history.content)}"

    records = await _every_record(kafka_server, topics)
    stack.stop_all()  # flushes every process's spans and logs to disk

    assert records[topics.ingest], "the request never reached the ingest topic"
    assert any(b"[EMAIL]" in record for record in records[topics.ingest]), (
        "the ingest topic should hold the request with placeholders"
    )
    for topic, blobs in records.items():
        leaked = sorted({value for blob in blobs for value in _leaks(blob)})
        assert not leaked, f"topic {topic} holds {leaked}"
    files = await asyncio.to_thread(_files_with_what_they_leak, tmp_path)
    traces = Path("traces.jsonl")
    assert traces in files, "no spans were exported to scan"
    assert files[traces] is not None, "the trace file is empty"
    assert any(path.suffix == ".log" for path in files), "no service logs to scan"
    leaking = {str(path): leaked for path, leaked in files.items() if leaked}
    assert not leaking, f"files under the data dir hold personal data: {leaking}"


def _files_with_what_they_leak(root: Path) -> dict[Path, list[str] | None]:
    """Every file under `root` (relative) with the values it holds; None when it is empty."""
    found: dict[Path, list[str] | None] = {}
    for path in root.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            found[path.relative_to(root)] = _leaks(content) if content else None
    return found
