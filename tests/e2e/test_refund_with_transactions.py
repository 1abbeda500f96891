"""The refund conversation over Kafka with `CONDUIT_KAFKA_TRANSACTIONS=true`: every step
consumes, transforms and produces in one Kafka transaction (scripted stand-in model)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from conduit.stack import ServiceProcesses
from shared.bus import Topics
from shared.bus.kafka import KafkaBus
from shared.client import ConduitClient
from shared.testing import KafkaServer
from tests.e2e.test_refund_over_kafka import (
    REFUND_MESSAGE,
    STARTUP_TIMEOUT_S,
    _describe,
    _load_knowledge,
    _payments_for,
)

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture
def topics() -> Topics:
    return Topics(f"etx{int(time.time() * 1000)}")


@pytest.fixture
def stack(kafka_server: KafkaServer, tmp_path: Path, topics: Topics) -> Iterator[ServiceProcesses]:
    processes = ServiceProcesses(
        bootstrap=kafka_server.bootstrap_servers,
        data_dir=tmp_path,
        env={
            "CONDUIT_INFERENCE_BACKEND": "scripted",
            "CONDUIT_TOPIC_PREFIX": topics.prefix,
            "CONDUIT_KAFKA_TRANSACTIONS": "true",
        },
    )
    processes.start_all()
    try:
        yield processes
    finally:
        processes.stop_all()


@pytest.fixture
async def client(kafka_server: KafkaServer, topics: Topics) -> AsyncIterator[ConduitClient]:
    bus = KafkaBus(kafka_server.bootstrap_servers, client_id="etx-client", transactional=True)
    conduit = ConduitClient(bus, topics)
    await bus.start()
    await conduit.start()
    try:
        yield conduit
    finally:
        await conduit.close()
        await bus.stop()


async def test_the_refund_conversation_completes_with_kafka_transactions(
    stack: ServiceProcesses, client: ConduitClient, tmp_path: Path
) -> None:
    await _load_knowledge(client, tmp_path)
    response = await client.ask(
        REFUND_MESSAGE, session_id="etx-refund", timeout_s=STARTUP_TIMEOUT_S
    )
    assert response.HasField("answer"), f"no answer: {response}\n{_describe(stack)}"
    tools = [x.call.tool for x in response.tool_exchanges]
    assert tools == ["lookup_invoice", "check_refund_policy", "issue_refund"], tools
    assert len(_payments_for(tmp_path, "INV-1001")) == 1, "expected exactly one payment"
