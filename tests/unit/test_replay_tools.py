"""The replay's tool-executor: recorded answers for recorded calls, a typed error for any
other call, and the real tool-executor's checks before either."""

from __future__ import annotations

import json

import pytest

from conduit.replay import TOOL_NOT_RECORDED, RecordedTools
from services.tool_executor.service import PRECONDITION_FAILED
from shared.config import repo_root
from shared.runtime import StepCall, ToolNotAllowed
from shared.tools import load_tool_catalog
from tests.fixtures.tool_events import eligible_check, exchange, refund_event, request_calls

ACT = StepCall(workflow="refund", step_id="act")
INVOICE = {"invoice_id": "INV-1001", "amount": 49.99, "currency": "USD", "charged_count": 2}


@pytest.fixture
def tools() -> RecordedTools:
    return RecordedTools(load_tool_catalog(repo_root() / "config"))


async def test_a_recorded_call_gets_the_recorded_result(tools: RecordedTools) -> None:
    event = request_calls(refund_event(), ("lookup_invoice", {"invoice_id": "INV-1001"}))
    tools.load(
        event.envelope.request_id, [exchange("lookup_invoice", {"invoice_id": "INV-1001"}, INVOICE)]
    )

    await tools.handle(event, ACT)

    [answered] = event.tool_exchanges
    assert answered.ok, f"a recorded call failed: {answered.error}"
    assert json.loads(answered.result_json) == INVOICE, "the recorded result was not returned"
    assert answered.call.call_id == "c1", "the exchange must name this round's call"


async def test_a_call_never_recorded_fails_typed_and_stops_the_round(tools: RecordedTools) -> None:
    event = request_calls(
        refund_event(),
        ("lookup_invoice", {"invoice_id": "INV-1001"}),
        ("check_refund_policy", {"invoice_id": "INV-1001"}),
    )
    tools.load(event.envelope.request_id, [eligible_check()])

    await tools.handle(event, ACT)

    [failed] = event.tool_exchanges
    assert not failed.ok, "an unrecorded call must not succeed"
    assert failed.error.code == TOOL_NOT_RECORDED, failed.error
    assert "lookup_invoice" in failed.error.message, failed.error.message


async def test_the_same_arguments_of_another_request_are_not_its_recording(
    tools: RecordedTools,
) -> None:
    event = request_calls(refund_event(), ("check_refund_policy", {"invoice_id": "INV-1001"}))
    tools.load("another-request", [eligible_check()])

    await tools.handle(event, ACT)

    assert event.tool_exchanges[0].error.code == TOOL_NOT_RECORDED, event.tool_exchanges[0]


async def test_repeated_calls_get_the_recorded_results_in_order(tools: RecordedTools) -> None:
    first, second = {**INVOICE, "status": "paid"}, {**INVOICE, "status": "refunded"}
    request = refund_event()
    recorded = [exchange("lookup_invoice", {"invoice_id": "INV-1001"}, r) for r in (first, second)]
    tools.load(request.envelope.request_id, recorded)
    results = []
    for _ in range(3):
        request_calls(request, ("lookup_invoice", {"invoice_id": "INV-1001"}))
        await tools.handle(request, ACT)
        results.append(json.loads(request.tool_exchanges[-1].result_json)["status"])

    assert results == ["paid", "refunded", "refunded"], (
        f"recorded answers out of order, or none once they ran out: {results}"
    )


async def test_a_refund_without_a_passing_policy_check_fails_as_it_would_live(
    tools: RecordedTools,
) -> None:
    event = request_calls(
        refund_event(), ("issue_refund", {"invoice_id": "INV-1001", "amount": 49.99})
    )
    recorded_refund = exchange(
        "issue_refund", {"invoice_id": "INV-1001", "amount": 49.99}, {"status": "issued"}
    )
    tools.load(event.envelope.request_id, [recorded_refund])

    await tools.handle(event, ACT)

    assert event.tool_exchanges[0].error.code == PRECONDITION_FAILED, event.tool_exchanges[0]


async def test_a_tool_the_caller_may_not_use_is_refused_as_it_would_be_live(
    tools: RecordedTools,
) -> None:
    event = request_calls(
        refund_event(roles=["guest"]), ("lookup_invoice", {"invoice_id": "INV-1001"})
    )
    tools.load(
        event.envelope.request_id, [exchange("lookup_invoice", {"invoice_id": "INV-1001"}, INVOICE)]
    )

    with pytest.raises(ToolNotAllowed):
        await tools.handle(event, ACT)
