"""Multi-agent over the real Kafka broker, six service processes, scripted stand-in model.
A message about an invoice and an order goes to the support desk. With the shipped config
the supervisor hands a confident refund intent to the billing agent without asking its
model, and billing keeps the request to the end. Where the supervisor's model chooses
(no `by_intent`), the agent it picks may hand the request, with everything it gathered,
to the other agent."""

from __future__ import annotations

from pathlib import Path

import pytest

from conduit.stack import ServiceProcesses
from shared.client import ConduitClient
from shared.contracts import Response
from tests.e2e.conftest import STARTUP_TIMEOUT_S, describe, load_knowledge, payments_for
from tests.fixtures.desk import config_where_the_desk_model_chooses

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.timeout(300)]

MESSAGE = "My order ORD-5001 arrived, but invoice INV-1001 charged me twice. Refund it please."
AGENT_STEPS = ("desk.decide", "billing.decide", "orders.decide")


@pytest.fixture
def desk_model_chooses() -> bool:
    return False


@pytest.fixture
def stack_env(tmp_path: Path, desk_model_chooses: bool) -> dict[str, str]:
    if not desk_model_chooses:
        return {}
    return {"CONDUIT_CONFIG_DIR": str(config_where_the_desk_model_chooses(tmp_path))}


async def _desk_answer(
    stack: ServiceProcesses, client: ConduitClient, tmp_path: Path
) -> tuple[Response, list[str]]:
    """The answer to MESSAGE, and the steps it went through."""
    await load_knowledge(client, tmp_path)
    response = await client.ask(MESSAGE, session_id="e2e-desk", timeout_s=STARTUP_TIMEOUT_S)
    assert response.HasField("answer"), f"no answer: {response}\n{describe(stack)}"
    return response, [record.step for record in response.steps]


async def test_a_confident_refund_intent_gives_billing_the_request_to_the_end(
    stack: ServiceProcesses, client: ConduitClient, tmp_path: Path
) -> None:
    response, steps = await _desk_answer(stack, client, tmp_path)
    visited = [s for s in steps if s in AGENT_STEPS]
    assert set(visited) == {"billing.decide"}, f"billing alone must handle a refund: {steps}"
    tools = [x.call.tool for x in response.tool_exchanges]
    assert tools == ["lookup_invoice", "check_refund_policy", "issue_refund"], tools
    assert len(payments_for(tmp_path, "INV-1001")) == 1, "the refund must be paid exactly once"


@pytest.mark.parametrize("desk_model_chooses", [True])
async def test_the_supervisors_model_picks_billing_which_hands_on_to_orders_with_its_context(
    stack: ServiceProcesses, client: ConduitClient, tmp_path: Path
) -> None:
    response, steps = await _desk_answer(stack, client, tmp_path)
    visited = [s for s in steps if s in AGENT_STEPS]
    assert visited[0] == "desk.decide", f"the supervisor's model must choose: {steps}"
    assert visited.index("billing.decide") < visited.index("orders.decide"), (
        f"billing must hand over to orders: {steps}"
    )
    tools = [x.call.tool for x in response.tool_exchanges]
    assert tools == ["lookup_invoice", "check_refund_policy", "issue_refund", "lookup_order"], (
        f"the orders agent must continue with the billing agent's context: {tools}"
    )
    assert "ORD-5001" in response.answer.text, response.answer.text
    assert len(payments_for(tmp_path, "INV-1001")) == 1, "the refund must be paid exactly once"
