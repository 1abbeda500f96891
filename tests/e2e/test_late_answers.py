"""Answers that come after the caller's ask returned join the conversation, through the
gateway process in front of the six services and the approvals desk over the real Kafka
broker (scripted stand-in model): a refund parked for approval and approved over gRPC,
and a request handed to a person who replies. Each later reply shows in the session's
history once, so the customer's next message is answered in its light."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import grpc  # type: ignore[import-untyped]
import pytest

from conduit.handoffs import reply
from conduit.stack import ServiceProcesses
from services.catalog import APPROVALS
from shared.bus import Topics
from shared.config import ConduitSettings
from shared.contracts import DecideRequest
from shared.testing import KafkaServer
from tests.e2e.conftest import (
    REFUND_MESSAGE,
    SUPERVISOR_KEY,
    GatewayProcess,
    describe,
    payments_for,
)
from tests.fixtures.approvals import config_needing_refund_approval

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.timeout(400)]

OFF_TOPIC = "Can you recommend a good movie for tonight?"
HISTORY_WAIT_S = 90.0


@pytest.fixture
def stack_env(tmp_path: Path) -> dict[str, str]:
    config = config_needing_refund_approval(tmp_path, expires_after_s=600.0)
    return {"CONDUIT_CONFIG_DIR": str(config), "CONDUIT_APPROVALS_SWEEP_INTERVAL_S": "0.5"}


async def _history(gateway: GatewayProcess, session: str) -> list[dict[str, Any]]:
    reply_ = await gateway.http.get(f"/v1/sessions/{session}/history", headers=gateway.auth())
    assert reply_.status_code == 200, reply_.text
    turns: list[dict[str, Any]] = reply_.json()["turns"]
    return turns


async def _history_with(
    gateway: GatewayProcess, session: str, turns: int, stack: ServiceProcesses
) -> list[dict[str, Any]]:
    """The session's history once it has `turns` turns (bounded wait)."""
    deadline = time.monotonic() + HISTORY_WAIT_S
    while time.monotonic() < deadline:
        history = await _history(gateway, session)
        if len(history) >= turns:
            return history
        await asyncio.sleep(0.5)
    raise AssertionError(
        f"history of {session} never reached {turns} turns: {history}\n{describe(stack)}"
    )


async def test_an_approved_refund_answers_in_the_conversation_it_was_asked_in(
    gateway: GatewayProcess, stack: ServiceProcesses, tmp_path: Path
) -> None:
    stack.start(APPROVALS)
    session = "late-approval"
    asked = await gateway.http.post(
        "/v1/ask", json={"text": REFUND_MESSAGE, "session_id": session}, headers=gateway.auth()
    )
    assert asked.status_code == 202, f"the refund must wait: {asked.text}\n{describe(stack)}"
    pending = asked.json()["pending"]

    decided = await gateway.grpc.Decide(
        DecideRequest(approval_id=pending["approval_id"], decision="approve", comment="ok"),
        metadata=gateway.grpc_auth(SUPERVISOR_KEY),
    )

    assert decided.status == "submitted", decided
    history = await _history_with(gateway, session, 3, stack)
    assert [t["role"] for t in history] == ["user", "assistant", "assistant"], history
    assert history[1]["content"] == pending["message"], "the pending reply comes first"
    assert "INV-1001" in history[2]["content"], f"not the refund's answer: {history}"
    assert {t["request_id"] for t in history} == {asked.json()["request_id"]}
    assert len(payments_for(tmp_path, "INV-1001")) == 1, "the approved refund pays once"
    await asyncio.sleep(2)
    assert len(await _history(gateway, session)) == 3, "the late answer must join only once"


async def test_a_persons_reply_to_a_handed_over_request_joins_its_conversation(
    gateway: GatewayProcess,
    stack: ServiceProcesses,
    kafka_server: KafkaServer,
    topics: Topics,
) -> None:
    session = "late-handoff"
    asked = await gateway.http.post(
        "/v1/ask", json={"text": OFF_TOPIC, "session_id": session}, headers=gateway.auth()
    )
    assert asked.json()["outcome"] == "handoff", f"expected a handoff: {asked.text}"
    request_id = asked.json()["request_id"]
    settings = ConduitSettings(
        bus="kafka", kafka_bootstrap=kafka_server.bootstrap_servers, topic_prefix=topics.prefix
    )
    text = "We sell electronics only, but our blog has film-night gadget tips."

    assert await reply(settings, request_id, text, user="agent-ana")

    history = await _history_with(gateway, session, 3, stack)
    assert [t["content"] for t in history][2] == text, f"the reply is not in: {history}"


async def test_a_decision_that_is_neither_approve_nor_reject_is_refused_over_grpc(
    gateway: GatewayProcess,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await gateway.grpc.Decide(
            DecideRequest(approval_id="r1:refund.act@1:0", decision="maybe"),
            metadata=gateway.grpc_auth(SUPERVISOR_KEY),
        )

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, refused.value
