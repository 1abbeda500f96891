"""The refund conversation over Kafka with `CONDUIT_KAFKA_TRANSACTIONS=true`: every step
consumes, transforms and produces in one Kafka transaction (scripted stand-in model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conduit.stack import ServiceProcesses
from shared.client import ConduitClient
from tests.e2e.conftest import (
    REFUND_MESSAGE,
    STARTUP_TIMEOUT_S,
    describe,
    load_knowledge,
    payments_for,
)

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture
def transactional() -> bool:
    return True


async def test_the_refund_conversation_completes_with_kafka_transactions(
    stack: ServiceProcesses, client: ConduitClient, tmp_path: Path
) -> None:
    await load_knowledge(client, tmp_path)
    response = await client.ask(
        REFUND_MESSAGE, session_id="etx-refund", timeout_s=STARTUP_TIMEOUT_S
    )
    assert response.HasField("answer"), f"no answer: {response}\n{describe(stack)}"
    tools = [x.call.tool for x in response.tool_exchanges]
    assert tools == ["lookup_invoice", "check_refund_policy", "issue_refund"], tools
    assert len(payments_for(tmp_path, "INV-1001")) == 1, "expected exactly one payment"
