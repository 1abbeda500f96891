"""Events written straight onto a topic, past the gateway, with a principal it never signed:
each service refuses them with FORBIDDEN and audits the refusal, and no tool runs."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from conduit.audit import AuditFilter, read_audit
from conduit.stack import ServiceProcesses
from shared.bus import BusMessage, Topics
from shared.bus.kafka import KafkaBus
from shared.client import ConduitClient
from shared.contracts import (
    ErrorCode,
    Response,
    StepEvent,
    ToolCall,
    UserRequest,
    WorkflowPosition,
    new_envelope,
)
from shared.runtime.steps import headers_for
from shared.security import sign_principal
from shared.testing import KafkaServer
from tests.e2e.conftest import PRINCIPAL_KEY, describe, payments_for

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.timeout(300)]

RESPONSE_TIMEOUT_S = 60.0


def _refund_act(roles: list[str]) -> StepEvent:
    """An event at the refund workflow's tool step, asking to pay out."""
    envelope = new_envelope(session_id=f"forged-{time.time_ns()}", roles=roles)
    envelope.workflow.CopyFrom(
        WorkflowPosition(name="refund", version="1.0", step="act", steps_taken=3)
    )
    event = StepEvent(envelope=envelope, request=UserRequest(text="refund me"))
    event.model_output.tool_calls.append(
        ToolCall(
            call_id="call-3-0",
            tool="issue_refund",
            arguments_json=json.dumps({"invoice_id": "INV-1001", "amount": 49.99}),
        )
    )
    return event


async def _response_to(kafka_server: KafkaServer, topics: Topics, event: StepEvent) -> Response:
    found: asyncio.Future[Response] = asyncio.get_running_loop().create_future()

    async def keep(message: BusMessage) -> None:
        response = Response.FromString(message.value)
        if response.envelope.request_id == event.envelope.request_id and not found.done():
            found.set_result(response)

    bus = KafkaBus(kafka_server.bootstrap_servers, client_id="e2e-forger")
    await bus.start()
    listener = await bus.listen(topics.responses, keep)
    try:
        await bus.publish(
            topics.step("tool-executor"),
            event.SerializeToString(),
            key=event.envelope.session_id,
            headers=headers_for(event),
        )
        return await asyncio.wait_for(found, RESPONSE_TIMEOUT_S)
    finally:
        await listener.close()
        await bus.stop()


def _unsigned(event: StepEvent) -> None:
    del event  # written without any signature


def _signed_with_another_key(event: StepEvent) -> None:
    sign_principal(event.envelope, b"not-the-key")


def _role_added_after_signing(event: StepEvent) -> None:
    sign_principal(event.envelope, PRINCIPAL_KEY.encode())
    event.envelope.principal.roles.append("admin")


def _tenant_changed_after_signing(event: StepEvent) -> None:
    sign_principal(event.envelope, PRINCIPAL_KEY.encode())
    event.envelope.tenant_id = "globex"


@pytest.mark.parametrize(
    "tamper",
    [
        _unsigned,
        _signed_with_another_key,
        _role_added_after_signing,
        _tenant_changed_after_signing,
    ],
)
async def test_a_forged_principal_is_refused_audited_and_pays_nothing(
    stack: ServiceProcesses,
    client: ConduitClient,
    kafka_server: KafkaServer,
    topics: Topics,
    tmp_path: Path,
    tamper: Callable[[StepEvent], None],
) -> None:
    event = _refund_act(["customer"])
    tamper(event)

    response = await _response_to(kafka_server, topics, event)

    assert response.error.code == ErrorCode.ERROR_CODE_FORBIDDEN, (
        f"a forged event was not refused: {response}\n{describe(stack)}"
    )
    assert payments_for(tmp_path, "INV-1001") == [], "a forged event paid out"
    listing = await read_audit(
        kafka_server.bootstrap_servers,
        topics,
        AuditFilter(request_id=event.envelope.request_id, kind="authorization"),
    )
    assert [(r.service, r.outcome) for r in listing.records] == [("tool-executor", "refused")], (
        listing
    )
