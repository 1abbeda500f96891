"""IT incident triage over the real Kafka broker, six service processes, scripted stand-in
model, and the IT-ops example API (examples/itops/http_api.py) as a real process.

An operator's alert goes from triage to `incident_triage` by the operator's role: fixed
calls read the alerted service's logs and deploys, then the incident router opens a ticket
with a severity and an owning team and answers naming it. The same text from a customer
goes the customer's way and never reaches the IT tools.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conduit.stack import ServiceProcesses
from shared.client import ConduitClient
from shared.contracts import Response
from tests.e2e.conftest import STARTUP_TIMEOUT_S, describe, load_knowledge
from tests.fixtures.itops import API_TOKEN, ItopsProcess

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.timeout(300)]

ALERT = "ALERT service=payments: 5xx rate 14% for 10 minutes"
IT_TOOLS = {"search_logs", "list_deploys", "service_health", "open_incident_ticket"}
INCIDENT_STEPS = ("logs", "deploys", "route_ticket")


@pytest.fixture(scope="module")
def itops_api() -> Iterator[ItopsProcess]:
    with ItopsProcess("examples.itops.http_api") as server:
        yield server


@pytest.fixture
def stack_env(itops_api: ItopsProcess) -> dict[str, str]:
    return {"ITOPS_API_URL": itops_api.url, "ITOPS_API_TOKEN": API_TOKEN}


def _tickets(api: ItopsProcess) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{api.url}/tickets", headers={"authorization": f"Bearer {API_TOKEN}"}, timeout=10
    )
    answer.raise_for_status()
    tickets: list[dict[str, Any]] = answer.json()["tickets"]
    return tickets


def _outcome(response: Response) -> str:
    return response.WhichOneof("outcome") or "none"


async def test_an_operators_alert_reads_logs_and_deploys_then_opens_one_routed_ticket(
    stack: ServiceProcesses, client: ConduitClient, itops_api: ItopsProcess
) -> None:
    before = {t["ticket_id"] for t in _tickets(itops_api)}

    response = await client.ask(
        ALERT, session_id="e2e-incident", roles=["it_operator"], timeout_s=STARTUP_TIMEOUT_S
    )

    assert response.HasField("answer"), f"no answer: {response}\n{describe(stack)}"
    tools = [x.call.tool for x in response.tool_exchanges]
    assert tools == ["search_logs", "list_deploys", "find_responder", "open_incident_ticket"], (
        f"expected logs, deploys, the responding team, then one ticket: {tools}"
    )
    failed = [(x.call.tool, x.error.message) for x in response.tool_exchanges if not x.ok]
    assert not failed, f"IT-ops calls failed: {failed}"
    services = {json.loads(x.call.arguments_json)["service"] for x in response.tool_exchanges}
    assert services == {"payments"}, f"every call must name the alerted service: {services}"
    opened = [t for t in _tickets(itops_api) if t["ticket_id"] not in before]
    assert len(opened) == 1, f"expected exactly one new ticket on the IT-ops API: {opened}"
    ticket = opened[0]
    assert json.loads(response.tool_exchanges[-1].result_json) == ticket, (
        "the exchange must carry the ticket the API holds"
    )
    assert (ticket["service"], ticket["status"]) == ("payments", "open"), ticket
    assert ticket["severity"] in ("sev1", "sev2", "sev3"), f"no severity: {ticket}"
    assert ticket["team"] == "payments-oncall", f"not routed to the deploying team: {ticket}"
    assert ticket["ticket_id"] in response.answer.text, (
        f"the answer must name {ticket['ticket_id']}: {response.answer.text!r}"
    )


async def test_the_same_alert_from_a_customer_never_reaches_the_it_tools(
    stack: ServiceProcesses, client: ConduitClient, itops_api: ItopsProcess, tmp_path: Path
) -> None:
    # The customer's way (the refund agent, as the classifier guesses) retrieves first.
    await load_knowledge(client, tmp_path)
    before = _tickets(itops_api)

    response = await client.ask(
        ALERT, session_id="e2e-incident-customer", timeout_s=STARTUP_TIMEOUT_S
    )

    assert _outcome(response) in ("answer", "handoff"), (
        f"the customer's request must end the customer's way: {response}\n{describe(stack)}"
    )
    called = {x.call.tool for x in response.tool_exchanges} & IT_TOOLS
    assert not called, f"a customer reached IT tools: {called}"
    steps = [record.step for record in response.steps]
    reached = [s for s in steps if s.split(".")[0] in INCIDENT_STEPS]
    assert not reached, f"a customer reached incident triage steps: {steps}"
    assert _tickets(itops_api) == before, "a customer's alert must open no ticket"
