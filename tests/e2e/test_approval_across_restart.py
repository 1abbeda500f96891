"""A refund that needs a person's approval, over the real Kafka broker with every service and
the approvals desk as its own process (scripted stand-in model): the request parks, every
process restarts, and the decision made afterwards still resumes it, exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

from conduit.approvals import waiting_approvals
from conduit.stack import ServiceProcesses
from services.catalog import APPROVALS
from shared.bus import Topics
from shared.bus.kafka import KafkaBus
from shared.client import ConduitClient
from shared.contracts import Response
from shared.runtime.approvals import Verb, decision_for, publish_decision
from shared.testing import KafkaServer
from tests.e2e.conftest import (
    PRINCIPAL_KEY,
    REFUND_MESSAGE,
    STARTUP_TIMEOUT_S,
    describe,
    later_response,
    load_knowledge,
    payments_for,
)
from tests.fixtures.approvals import config_needing_refund_approval

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.timeout(400)]


@pytest.fixture
def approval_expires_after_s() -> float:
    return 600.0


@pytest.fixture
def config_dir(tmp_path: Path, approval_expires_after_s: float) -> Path:
    return config_needing_refund_approval(tmp_path, approval_expires_after_s)


@pytest.fixture
def stack_env(config_dir: Path) -> dict[str, str]:
    return {"CONDUIT_CONFIG_DIR": str(config_dir), "CONDUIT_APPROVALS_SWEEP_INTERVAL_S": "0.5"}


@pytest.fixture
def desk(stack: ServiceProcesses) -> None:
    """The approvals desk as its own process; the stack stops it with the rest."""
    stack.start(APPROVALS)


async def _decide(
    kafka_server: KafkaServer, topics: Topics, approval_id: str, verb: Verb, roles: list[str]
) -> None:
    decision = decision_for(approval_id, verb, user="sam", roles=roles, key=PRINCIPAL_KEY.encode())
    bus = KafkaBus(kafka_server.bootstrap_servers, client_id="e2e-approver")
    await bus.start()
    try:
        await publish_decision(bus, topics, decision)
    finally:
        await bus.stop()


async def _parked_refund(
    client: ConduitClient, stack: ServiceProcesses, tmp_path: Path
) -> Response:
    await load_knowledge(client, tmp_path)
    pending = await client.ask(
        REFUND_MESSAGE, session_id="e2e-approval", timeout_s=STARTUP_TIMEOUT_S
    )
    assert pending.HasField("pending"), (
        f"the refund did not wait for approval: {pending}\n{describe(stack)}"
    )
    assert pending.pending.tool == "issue_refund", pending
    assert payments_for(tmp_path, "INV-1001") == [], "nothing may be paid before the approval"
    return pending


def _restart_everything(stack: ServiceProcesses) -> None:
    stack.stop_all()
    stack.start_all()
    stack.start(APPROVALS)


async def test_an_approval_given_after_every_process_restarted_resumes_the_refund_once(
    stack: ServiceProcesses,
    desk: None,
    client: ConduitClient,
    responses_seen: list[Response],
    kafka_server: KafkaServer,
    topics: Topics,
    tmp_path: Path,
) -> None:
    pending = await _parked_refund(client, stack, tmp_path)
    waiting = await waiting_approvals(kafka_server.bootstrap_servers, topics)
    assert [a.approval_id for a in waiting] == [pending.pending.approval_id], waiting

    _restart_everything(stack)
    await _decide(kafka_server, topics, pending.pending.approval_id, "approve", ["supervisor"])
    final = await later_response(responses_seen, pending.envelope.request_id, after="pending")

    assert final.HasField("answer"), (
        f"the approved refund did not finish: {final}\n{describe(stack)}"
    )
    tools = [x.call.tool for x in final.tool_exchanges]
    assert tools == ["lookup_invoice", "check_refund_policy", "issue_refund"], tools
    assert len(payments_for(tmp_path, "INV-1001")) == 1, "the approved refund must pay once"


async def test_a_rejected_call_never_runs_and_the_request_goes_to_a_person(
    stack: ServiceProcesses,
    desk: None,
    client: ConduitClient,
    responses_seen: list[Response],
    kafka_server: KafkaServer,
    topics: Topics,
    tmp_path: Path,
) -> None:
    pending = await _parked_refund(client, stack, tmp_path)

    # A customer may not approve: that decision is ignored, the supervisor's counts.
    await _decide(kafka_server, topics, pending.pending.approval_id, "approve", ["customer"])
    await _decide(kafka_server, topics, pending.pending.approval_id, "reject", ["supervisor"])
    final = await later_response(responses_seen, pending.envelope.request_id, after="pending")

    assert final.HasField("handoff"), f"a rejected refund must go to a person: {final}"
    assert final.tool_exchanges[-1].error.code == "APPROVAL_REJECTED", final.tool_exchanges
    assert payments_for(tmp_path, "INV-1001") == [], "a rejected refund was paid"


@pytest.mark.parametrize("approval_expires_after_s", [3.0])
async def test_an_approval_nobody_gives_in_time_ends_the_request(
    stack: ServiceProcesses,
    desk: None,
    client: ConduitClient,
    responses_seen: list[Response],
    tmp_path: Path,
) -> None:
    pending = await _parked_refund(client, stack, tmp_path)

    final = await later_response(responses_seen, pending.envelope.request_id, after="pending")

    assert final.HasField("handoff"), f"an expired approval must end with a person: {final}"
    assert final.tool_exchanges[-1].error.code == "APPROVAL_EXPIRED", final.tool_exchanges
    assert payments_for(tmp_path, "INV-1001") == []
