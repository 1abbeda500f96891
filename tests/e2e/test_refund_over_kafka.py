"""The refund conversation across six OS processes over the real Kafka broker.

The model is the deterministic scripted stand-in (`CONDUIT_INFERENCE_BACKEND=scripted`):
these tests check orchestration and delivery, not language.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest

from conduit.stack import ServiceProcesses
from shared.bus import BusMessage, Topics
from shared.bus.kafka import KafkaBus
from shared.client import ConduitClient
from shared.config import repo_root
from shared.contracts import Response, StepEvent
from shared.testing import KafkaServer
from tests.e2e.conftest import (
    PRINCIPAL_KEY,
    REFUND_MESSAGE,
    STARTUP_TIMEOUT_S,
    describe,
    load_knowledge,
    payments_for,
)

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.timeout(300)]


async def test_a_refund_step_delivered_twice_pays_once_and_answers_once(
    stack: ServiceProcesses,
    client: ConduitClient,
    kafka_server: KafkaServer,
    topics: Topics,
    tmp_path: Path,
) -> None:
    await load_knowledge(client, tmp_path)
    duplicated: list[bytes] = []
    bus = KafkaBus(kafka_server.bootstrap_servers, client_id="e2e-duplicator")
    await bus.start()

    async def duplicate_refund_step(message: BusMessage) -> None:
        event = StepEvent.FromString(message.value)
        calls = [c.tool for c in event.model_output.tool_calls]
        if "issue_refund" in calls and not duplicated:
            duplicated.append(message.value)
            await bus.publish(
                message.topic, message.value, key=event.envelope.session_id, headers=message.headers
            )

    tap = await bus.listen(topics.step("tool-executor"), duplicate_refund_step)
    responses: list[Response] = []

    async def collect(message: BusMessage) -> None:
        responses.append(Response.FromString(message.value))

    responses_tap = await bus.listen(topics.responses, collect)
    try:
        response = await client.ask(
            REFUND_MESSAGE, session_id="e2e-refund", timeout_s=STARTUP_TIMEOUT_S
        )
        await asyncio.sleep(5)  # time for the duplicate to be handled, if it were
    finally:
        await tap.close()
        await responses_tap.close()
        await bus.stop()

    assert response.HasField("answer"), f"no answer: {response}\n{describe(stack)}"
    tools = [x.call.tool for x in response.tool_exchanges]
    assert tools == ["lookup_invoice", "check_refund_policy", "issue_refund"], tools
    assert duplicated, "the issue_refund step event was never seen, so never duplicated"
    payments = payments_for(tmp_path, "INV-1001")
    assert len(payments) == 1, f"expected exactly one payment, ledger holds {payments}"
    assert payments[0][1] == 4999, f"refund amount should be the duplicate charge: {payments}"
    finals = [r for r in responses if r.envelope.request_id == response.envelope.request_id]
    assert len(finals) == 1, f"the duplicate step produced {len(finals)} final responses"
    assert "skipping already handled event" in stack.log("tool-executor"), (
        "the tool-executor did not recognise the redelivered refund step"
    )


async def test_a_malformed_event_is_dead_lettered_and_the_pipeline_keeps_serving(
    stack: ServiceProcesses,
    client: ConduitClient,
    kafka_server: KafkaServer,
    topics: Topics,
) -> None:
    bus = KafkaBus(kafka_server.bootstrap_servers, client_id="e2e-poison")
    await bus.start()
    dead: list[BusMessage] = []

    async def collect(message: BusMessage) -> None:
        dead.append(message)

    tap = await bus.listen(topics.deadletter, collect)
    try:
        await bus.publish(topics.ingest, b"\xff\x00 not a protobuf", key="poison", headers={})
        response = await client.ask(
            "Where is my order ORD-5001?", session_id="after-poison", timeout_s=STARTUP_TIMEOUT_S
        )
        deadline = time.monotonic() + 30
        while not dead and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
    finally:
        await tap.close()
        await bus.stop()
    assert dead, f"the malformed event never reached the dead-letter topic\n{describe(stack)}"
    assert "undecodable" in dead[0].headers.get("conduit-dlq-reason", ""), dead[0].headers
    assert dead[0].headers.get("conduit-dlq-service") == "guardrail", dead[0].headers
    assert response.HasField("answer"), f"the request after the poison failed: {response}"
    assert all(stack.alive().values()), f"a service died: {stack.alive()}"


async def test_the_cli_asks_over_kafka_and_prints_the_answer(
    stack: ServiceProcesses, kafka_server: KafkaServer, topics: Topics
) -> None:
    env = {
        **os.environ,
        "CONDUIT_BUS": "kafka",
        "CONDUIT_KAFKA_BOOTSTRAP": kafka_server.bootstrap_servers,
        "CONDUIT_TOPIC_PREFIX": topics.prefix,
        "CONDUIT_PRINCIPAL_KEY": PRINCIPAL_KEY,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "conduit",
        "ask",
        "Where is my order ORD-5001?",
        "--timeout",
        str(STARTUP_TIMEOUT_S),
        cwd=repo_root(),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), STARTUP_TIMEOUT_S + 30)
    text = output.decode(errors="replace")
    assert process.returncode == 0, f"conduit ask failed:\n{text}\n{describe(stack)}"
    assert "outcome:  answer" in text, text
    assert "lookup_order(order_id='ORD-5001')" in text, text
