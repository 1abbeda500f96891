"""Gating: which tools a request may call now, and with which argument values."""

from __future__ import annotations

import pytest

from shared.config import repo_root
from shared.contracts import Entity, StepEvent
from shared.tools import (
    OfferedTool,
    ToolCatalog,
    bound_values,
    load_tool_catalog,
    offerable_tools,
    requirement_failures,
    unbound_arguments,
)
from tests.fixtures.tool_events import eligible_check, exchange, ineligible_check, refund_event

REFUND_TOOLS = ["lookup_invoice", "check_refund_policy", "issue_refund"]
INVOICE_1001 = {
    "invoice_id": "INV-1001",
    "amount": 49.99,
    "currency": "USD",
    "status": "paid",
    "charged_count": 2,
}


@pytest.fixture(scope="module")
def catalog() -> ToolCatalog:
    return load_tool_catalog(repo_root() / "config")


def _by_name(offered: list[OfferedTool]) -> dict[str, OfferedTool]:
    return {tool.spec.name: tool for tool in offered}


def test_bound_values_are_the_extracted_entities_in_order(catalog: ToolCatalog) -> None:
    event = refund_event(invoice_ids=["INV-1002", "INV-1001", "INV-1002"])
    bound = bound_values(catalog.spec("lookup_invoice"), event)
    assert bound == {"invoice_id": ["INV-1002", "INV-1001"]}, f"wrong bound values: {bound}"


def test_entities_that_do_not_fit_the_argument_are_not_bound(catalog: ToolCatalog) -> None:
    event = refund_event(invoice_ids=["INV-1001", "invoice 7"])
    bound = bound_values(catalog.spec("lookup_invoice"), event)
    assert bound == {"invoice_id": ["INV-1001"]}, f"a malformed id was bound: {bound}"


def test_result_values_come_only_from_successful_exchanges(catalog: ToolCatalog) -> None:
    event = refund_event()
    event.tool_exchanges.append(eligible_check(amount=49.99))
    event.tool_exchanges.append(
        exchange(
            "check_refund_policy", {"invoice_id": "INV-1001"}, {"refundable_amount": 5.0}, ok=False
        )
    )
    bound = bound_values(catalog.spec("issue_refund"), event)
    assert bound["amount"] == [49.99], f"amount bound from a failed exchange: {bound}"


def test_offered_invoice_ids_are_restricted_to_extracted_entities(catalog: ToolCatalog) -> None:
    offered = _by_name(offerable_tools(catalog, REFUND_TOOLS, refund_event()))
    schema = offered["lookup_invoice"].json_schema()
    assert schema["properties"]["invoice_id"]["enum"] == ["INV-1001"], (
        f"invoice ids not restricted to the request's entities: {schema}"
    )


def test_issue_refund_is_hidden_before_the_policy_check(catalog: ToolCatalog) -> None:
    event = refund_event()
    event.tool_exchanges.append(
        exchange("lookup_invoice", {"invoice_id": "INV-1001"}, INVOICE_1001)
    )
    offered = _by_name(offerable_tools(catalog, REFUND_TOOLS, event))
    assert "issue_refund" not in offered, "issue_refund offered without a policy check"
    assert "check_refund_policy" in offered, "the policy check should be offered"


def test_issue_refund_is_offered_after_an_eligible_check_with_the_refundable_amount(
    catalog: ToolCatalog,
) -> None:
    event = refund_event()
    event.tool_exchanges.append(eligible_check(amount=49.99))
    offered = _by_name(offerable_tools(catalog, REFUND_TOOLS, event))
    assert "issue_refund" in offered, "issue_refund hidden after an eligible policy check"
    allowed = dict(offered["issue_refund"].allowed_values)
    assert allowed == {"invoice_id": ["INV-1001"], "amount": [49.99]}, (
        f"issue_refund not limited to the checked invoice and refundable amount: {allowed}"
    )


def test_issue_refund_stays_hidden_after_an_ineligible_check(catalog: ToolCatalog) -> None:
    event = refund_event(invoice_ids=["INV-1002"])
    event.tool_exchanges.append(ineligible_check("INV-1002"))
    offered = _by_name(offerable_tools(catalog, REFUND_TOOLS, event))
    assert "issue_refund" not in offered, "issue_refund offered after an ineligible check"


def test_issue_refund_is_offered_only_for_the_invoice_that_passed_the_check(
    catalog: ToolCatalog,
) -> None:
    event = refund_event(invoice_ids=["INV-1001", "INV-1002"])
    event.tool_exchanges.extend([eligible_check("INV-1001"), ineligible_check("INV-1002")])
    offered = _by_name(offerable_tools(catalog, REFUND_TOOLS, event))
    invoice_ids = list(offered["issue_refund"].allowed_values["invoice_id"])
    assert invoice_ids == ["INV-1001"], f"refund offered for an unchecked invoice: {invoice_ids}"


def test_a_call_already_made_is_not_offered_again(catalog: ToolCatalog) -> None:
    event = refund_event()
    event.tool_exchanges.extend(
        [
            exchange("lookup_invoice", {"invoice_id": "INV-1001"}, INVOICE_1001),
            eligible_check(),
            exchange("issue_refund", {"invoice_id": "INV-1001", "amount": 49.99}, {"ok": 1}),
        ]
    )
    offered = offerable_tools(catalog, REFUND_TOOLS, event)
    assert offered == [], f"completed calls offered again: {[t.spec.name for t in offered]}"


def test_a_call_made_for_one_entity_leaves_the_others_offered(catalog: ToolCatalog) -> None:
    event = refund_event(invoice_ids=["INV-1001", "INV-1002"])
    event.tool_exchanges.append(
        exchange("lookup_invoice", {"invoice_id": "INV-1001"}, INVOICE_1001)
    )
    offered = _by_name(offerable_tools(catalog, ["lookup_invoice"], event))
    allowed = list(offered["lookup_invoice"].allowed_values["invoice_id"])
    assert allowed == ["INV-1002"], f"expected only the invoice not yet looked up: {allowed}"


def _alert_event(*services: str) -> StepEvent:
    event = refund_event(invoice_ids=[], roles=["it_operator"])
    event.intent.entities.extend(Entity(kind="service", value=s) for s in services)
    for service in services:
        event.tool_exchanges.append(
            exchange("search_logs", {"service": service, "since_minutes": None}, {"entries": []})
        )
        team = {"service": service, "team": "platform-oncall", "reason": "no deploy"}
        event.tool_exchanges.append(exchange("find_responder", {"service": service}, team))
    return event


def test_a_side_effect_done_for_its_bound_values_is_not_offered_again(
    catalog: ToolCatalog,
) -> None:
    event = _alert_event("payments", "search")
    ticket = {
        "service": "payments",
        "title": "pool exhausted",
        "severity": "sev1",
        "team": "platform-oncall",
    }
    event.tool_exchanges.append(exchange("open_incident_ticket", ticket, {"ticket_id": "INC-1"}))

    offered = _by_name(offerable_tools(catalog, ["open_incident_ticket"], event))

    allowed = list(offered["open_incident_ticket"].allowed_values["service"])
    assert allowed == ["search"], (
        "a ticket already opened for payments must not be offered again under another "
        f"title (its free arguments), only the other alerted service: {allowed}"
    )


def test_a_read_only_tool_with_a_free_argument_stays_offered(catalog: ToolCatalog) -> None:
    event = _alert_event("payments")

    offered = _by_name(offerable_tools(catalog, ["search_logs"], event))

    assert "search_logs" in offered, (
        "search_logs(payments) succeeded, but since_minutes is free: another search is a "
        "new question and must stay offered"
    )


def test_a_tool_without_a_value_for_a_bound_argument_is_not_offered(
    catalog: ToolCatalog,
) -> None:
    offered = offerable_tools(catalog, REFUND_TOOLS, refund_event(invoice_ids=[]))
    assert offered == [], f"tools offered with no invoice id: {[t.spec.name for t in offered]}"


def test_tools_outside_the_principal_roles_are_not_offered(catalog: ToolCatalog) -> None:
    offered = offerable_tools(catalog, REFUND_TOOLS, refund_event(roles=["guest"]))
    assert offered == [], f"tools offered to a guest: {[t.spec.name for t in offered]}"


def test_order_lookup_is_bound_to_extracted_order_ids(catalog: ToolCatalog) -> None:
    event = refund_event(invoice_ids=[])
    event.intent.entities.append(Entity(kind="order_id", value="ORD-5001"))
    [offered] = offerable_tools(catalog, ["lookup_order"], event)
    assert offered.allowed_values == {"order_id": ["ORD-5001"]}, "order id not bound"


def test_requirement_failures_say_the_policy_check_was_not_made(catalog: ToolCatalog) -> None:
    failures = requirement_failures(
        catalog.spec("issue_refund"), {"invoice_id": "INV-1001", "amount": 49.99}, []
    )
    assert len(failures) == 1, f"expected one unmet requirement: {failures}"
    assert "check_refund_policy(invoice_id='INV-1001')" in failures[0], failures[0]
    assert "not called" in failures[0], f"reason does not say the check is missing: {failures}"


def test_requirement_failures_report_an_ineligible_result(catalog: ToolCatalog) -> None:
    failures = requirement_failures(
        catalog.spec("issue_refund"),
        {"invoice_id": "INV-1002", "amount": 19.99},
        [ineligible_check("INV-1002")],
    )
    assert failures, "an ineligible policy check met the requirement"
    assert "eligible=False" in failures[0], f"observed result not reported: {failures}"


def test_a_check_for_another_invoice_does_not_meet_the_requirement(
    catalog: ToolCatalog,
) -> None:
    failures = requirement_failures(
        catalog.spec("issue_refund"),
        {"invoice_id": "INV-1004", "amount": 49.99},
        [eligible_check("INV-1001")],
    )
    assert failures, "a policy check for INV-1001 allowed a refund on INV-1004"


def test_an_eligible_check_for_the_same_invoice_meets_the_requirement(
    catalog: ToolCatalog,
) -> None:
    failures = requirement_failures(
        catalog.spec("issue_refund"),
        {"invoice_id": "INV-1001", "amount": 49.99},
        [eligible_check("INV-1001")],
    )
    assert failures == [], f"requirement unmet despite an eligible check: {failures}"


def test_values_the_request_did_not_produce_are_reported(catalog: ToolCatalog) -> None:
    event = refund_event()
    event.tool_exchanges.append(eligible_check(amount=49.99))
    problems = unbound_arguments(
        catalog.spec("issue_refund"), {"invoice_id": "INV-1001", "amount": 500.0}, event
    )
    assert len(problems) == 1, f"expected the invented amount reported: {problems}"
    assert "amount=500.0" in problems[0], problems[0]
