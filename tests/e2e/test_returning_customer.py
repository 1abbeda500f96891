"""The returning customer, over the real Kafka broker with six service processes (scripted
stand-in model): a customer names their order and how they want to be contacted, every
process restarts, and when they come back in a new conversation without the order id, the
assistant still knows both. Another customer asking the same gets nothing of theirs."""

from __future__ import annotations

from pathlib import Path

import pytest

from conduit.stack import ServiceProcesses
from shared.bus import Topics
from shared.client import ConduitClient
from shared.testing import KafkaServer
from tests.e2e.conftest import STARTUP_TIMEOUT_S, describe, step_events_to

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.timeout(300)]

RETURNING_QUESTION = "Has my order shipped yet?"


async def test_a_returning_customer_need_not_repeat_the_order_id_after_every_service_restarted(
    stack: ServiceProcesses,
    client: ConduitClient,
    kafka_server: KafkaServer,
    topics: Topics,
    tmp_path: Path,
) -> None:
    first = await client.ask(
        "Where is my order ORD-5002? Please email me about it.",
        session_id="visit-1",
        user_id="cust-42",
        timeout_s=STARTUP_TIMEOUT_S,
    )
    assert first.HasField("answer"), f"the first visit failed: {first}\n{describe(stack)}"

    stack.stop_all()
    stack.start_all()
    async with step_events_to(kafka_server, topics, "inference") as prompted:
        back = await client.ask(
            RETURNING_QUESTION,
            session_id="visit-2",
            user_id="cust-42",
            timeout_s=STARTUP_TIMEOUT_S,
        )

    assert back.HasField("answer"), (
        f"the returning customer got no answer: {back}\n{describe(stack)}"
    )
    [lookup] = [x for x in back.tool_exchanges if x.call.tool == "lookup_order"]
    assert '"ORD-5002"' in lookup.call.arguments_json, (
        f"the remembered order was not looked up: {lookup.call.arguments_json}"
    )
    assert "ORD-5002" in back.answer.text, back.answer.text
    systems = [e.prompt.messages[0].content for e in prompted if e.prompt.messages]
    assert systems, "no prompt of the returning request reached the inference topic"
    assert all("contact_channel=email" in system for system in systems), (
        f"the remembered contact preference did not reach the prompt: {systems}"
    )
    assert (tmp_path / "memory" / "memory.sqlite3").exists(), "memory must live under the data dir"


async def test_another_customer_gets_nothing_of_what_the_first_one_said(
    stack: ServiceProcesses, client: ConduitClient
) -> None:
    await client.ask(
        "Where is my order ORD-5002?",
        session_id="visit-a",
        user_id="cust-42",
        timeout_s=STARTUP_TIMEOUT_S,
    )

    other = await client.ask(
        RETURNING_QUESTION, session_id="visit-b", user_id="cust-7", timeout_s=STARTUP_TIMEOUT_S
    )

    looked_up = [x.call.arguments_json for x in other.tool_exchanges if x.ok]
    assert not any("ORD-5002" in arguments for arguments in looked_up), (
        f"another customer's order was used: {looked_up}"
    )
    assert not other.HasField("answer") or "ORD-5002" not in other.answer.text, other
