"""The evidence of a request (tool results, arguments, chunks) and the findings for an
answer's facts that no evidence states, with the failures seen from the small local model."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.contracts import Chunk, ToolCall, ToolError, ToolExchange
from shared.grounding import Evidence, Fact, Finding, ungrounded
from tests.fixtures.tool_events import SHIPPED_ORDER

ORDER = SHIPPED_ORDER
ORDER_FACTS = {"lookup_order": ["order_id", "status", "carrier", "tracking_number",
                                "estimated_delivery"]}  # fmt: skip
POLICY = {
    "invoice_id": "INV-1001",
    "eligible": True,
    "reason": "duplicate charge within 30 days",
    "refundable_amount": 49.99,
    "currency": "USD",
}
REFUND_TIMING = "Once a refund is approved it usually appears within 5\u20137 business days."


def _exchange(
    tool: str, arguments: dict[str, Any], result: Any, *, ok: bool = True
) -> ToolExchange:
    return ToolExchange(
        call=ToolCall(tool=tool, arguments_json=json.dumps(arguments)),
        ok=ok,
        result_json=json.dumps(result) if ok else "",
        error=ToolError() if ok else ToolError(code="INVOICE_NOT_FOUND", message="no invoice"),
    )


def _facts(evidence: Evidence) -> set[tuple[str, str, str]]:
    return {(fact.kind, fact.value, fact.origin) for fact in evidence.facts}


def _order_evidence(**changes: Any) -> Evidence:
    exchange = _exchange("lookup_order", {"order_id": "ORD-5001"}, {**ORDER, **changes})
    return Evidence.from_request([exchange], [], stateable=ORDER_FACTS)


def _policy_evidence() -> Evidence:
    exchange = _exchange("check_refund_policy", {"invoice_id": "INV-1001"}, POLICY)
    chunk = Chunk(source_id="refund-policy#5", text=REFUND_TIMING)
    return Evidence.from_request([exchange], [chunk])


def test_a_result_gives_each_field_by_its_shape_and_name_with_its_origin() -> None:
    facts = _facts(Evidence.from_request([_exchange("lookup_order", {}, ORDER)], []))
    assert facts == {
        ("id", "ORD-5001", "lookup_order.order_id"),
        ("status", "shipped", "lookup_order.status"),
        ("id", "1Z999AA10123456784", "lookup_order.tracking_number"),
        ("date", "2026-12-09", "lookup_order.estimated_delivery"),
        ("date", "2026-12-06", "lookup_order.updated_at"),
        ("time", "13:51", "lookup_order.updated_at"),
    }


def test_numbers_are_amounts_in_the_currency_of_their_object() -> None:
    facts = _policy_evidence().of_kind("amount")
    assert facts == [Fact("amount", "49.99", "check_refund_policy.refundable_amount", "USD")]


@pytest.mark.parametrize(
    ("result", "fact"),
    [
        ({"eligible": True}, ("status", "eligible", "t.eligible")),
        ({"eligible": False}, ("status", "not eligible", "t.eligible")),
        ({"refunded": 30.0}, ("status", "refunded", "t.refunded")),
        ({"delivered_at": "2026-12-09"}, ("status", "delivered", "t.delivered_at")),
        ({"payment_status": "PAID"}, ("status", "paid", "t.payment_status")),
        ({"state": "in_transit"}, ("status", "in transit", "t.state")),
        ({"status": "canceled"}, ("status", "cancelled", "t.status")),
        ({"reason": "duplicate charge within 30 days"}, ("duration", "30 day", "t.reason")),
        ({"window_days": 30}, ("duration", "30 day", "t.window_days")),
        ({"customer_id": 100}, ("id", "100", "t.customer_id")),
        ({"order": {"total": 5}}, ("amount", "5.00", "t.order.total")),
        ({"orders": [{"status": "delivered"}]}, ("status", "delivered", "t.orders.status")),
    ],
)
def test_each_field_shape_gives_its_fact(result: dict[str, Any], fact: tuple[str, ...]) -> None:
    facts = _facts(Evidence.from_request([_exchange("t", {}, result)], []))
    assert fact in facts, f"{result} should give {fact}, gave {facts}"


@pytest.mark.parametrize(
    "result",
    [{"refunded": 0.0}, {"replayed": True}, {"status": None}, {"eligible": None}, {"note": ""}],
)
def test_zero_null_empty_and_unknown_flags_give_no_status(result: dict[str, Any]) -> None:
    statuses = Evidence.from_request([_exchange("t", {}, result)], []).of_kind("status")
    assert statuses == [], f"{result} should give no status"


def test_a_result_that_is_no_json_is_read_as_text() -> None:
    exchange = ToolExchange(call=ToolCall(tool="t"), ok=True, result_json="Refund PAY-77 issued.")
    assert ("id", "PAY-77", "t") in _facts(Evidence.from_request([exchange], []))


def test_stateable_fields_only_are_facts_of_a_tool_the_mapping_names() -> None:
    origins = {fact.origin for fact in _order_evidence().facts}
    assert "lookup_order.updated_at" not in origins, "updated_at is bookkeeping, not stateable"
    assert "lookup_order.estimated_delivery" in origins


def test_a_stateable_path_covers_the_fields_under_it() -> None:
    result = {"orders": [{"order_id": "ORD-5001", "status": "shipped"}], "total": 1}
    exchange = _exchange("find_orders", {}, result)
    evidence = Evidence.from_request([exchange], [], stateable={"find_orders": ["orders"]})
    assert {fact.origin for fact in evidence.facts} == {
        "find_orders.orders.order_id",
        "find_orders.orders.status",
    }


def test_a_tool_the_mapping_does_not_name_gives_every_field() -> None:
    exchange = _exchange("lookup_order", {}, ORDER)
    evidence = Evidence.from_request([exchange], [], stateable={"other_tool": ["x"]})
    assert "lookup_order.updated_at" in {fact.origin for fact in evidence.facts}


def test_arguments_give_ids_only_even_of_a_failed_call() -> None:
    arguments = {"invoice_id": "INV-1001", "email": "[EMAIL#3f9a2c1b5d7e]", "amount": 49.99}
    failed = _exchange("lookup_invoice", arguments, None, ok=False)
    facts = _facts(Evidence.from_request([failed], []))
    assert facts == {("id", "INV-1001", "lookup_invoice(invoice_id)")}


def test_a_chunk_gives_its_mentions_but_no_statuses() -> None:
    chunk = Chunk(source_id="refund-policy#2", text="A cancelled order is refunded within 30 days.")
    facts = _facts(Evidence.from_request([], [chunk]))
    assert facts == {("duration", "30 day", "refund-policy#2")}


CORRECT_ORDER_ANSWER = (
    "Your order ORD-5001 has shipped with UPS, tracking number 1Z999AA10123456784, "
    "and should arrive on December 9, 2026."
)


@pytest.mark.parametrize(
    "answer",
    [
        CORRECT_ORDER_ANSWER,
        "Your order ORD-5001 has shipped and should arrive on December 9.",
        "Order ord-5001 is shipped; it arrives on 12/09/2026.",
        "It has not been delivered yet: it has shipped and arrives in December 2026.",
        "It will be delivered on December 9.",
    ],
)
def test_a_correct_order_answer_has_no_finding(answer: str) -> None:
    assert ungrounded(answer, _order_evidence()) == [], answer


@pytest.mark.parametrize(
    "answer",
    [
        "Your refund of 49.99 USD will appear within 5 to 7 business days.",
        "Invoice INV-1001 is eligible for a refund of 49.99, since it was charged twice.",
        "You can get $49.99 back: the duplicate charge was within 30 days.",
    ],
)
def test_a_correct_refund_answer_has_no_finding(answer: str) -> None:
    assert ungrounded(answer, _policy_evidence()) == [], answer


def _kinds(findings: list[Finding]) -> list[str]:
    return [finding.kind for finding in findings]


def test_delivered_for_a_shipped_order_is_a_status_finding() -> None:
    findings = ungrounded("Your order ORD-5001 has been delivered.", _order_evidence())
    assert _kinds(findings) == ["status"]
    assert findings[0].expected_from == ("lookup_order.status",)


def test_not_delivered_for_a_delivered_order_is_a_status_finding() -> None:
    evidence = _order_evidence(status="delivered")
    assert _kinds(ungrounded("Your order has not been delivered yet.", evidence)) == ["status"]


@pytest.mark.parametrize("answer", ["Your order is not yet shipped.", "It has not shipped yet."])
def test_not_shipped_for_a_delivered_order_is_a_status_finding(answer: str) -> None:
    evidence = _order_evidence(status="delivered")
    assert _kinds(ungrounded(answer, evidence)) == ["status"], f"{answer!r} passed"


def test_not_in_transit_for_a_delivered_order_has_no_finding() -> None:
    evidence = _order_evidence(status="delivered")
    assert ungrounded("Your order is not in transit.", evidence) == []


def test_the_date_of_a_field_that_is_not_stateable_is_a_date_finding() -> None:
    findings = ungrounded("Your order should arrive on December 6, 2026.", _order_evidence())
    assert _kinds(findings) == ["date"], "updated_at is no arrival date"
    assert findings[0].expected_from == ("lookup_order.estimated_delivery",)


@pytest.mark.parametrize("answer", ["It arrives December 9, 2025.", "It arrives on 2026-12-10."])
def test_a_date_with_another_year_or_day_is_a_date_finding(answer: str) -> None:
    assert _kinds(ungrounded(answer, _order_evidence())) == ["date"], answer


@pytest.mark.parametrize(
    "answer",
    [
        "Your refund will appear within 2 weeks.",
        "Your refund will appear within 5-7 days.",
        "Your refund will appear within 3-5 business days.",
    ],
)
def test_a_duration_the_policy_does_not_give_is_a_duration_finding(answer: str) -> None:
    findings = ungrounded(answer, _policy_evidence())
    assert _kinds(findings) == ["duration"], answer
    assert findings[0].expected_from == ("check_refund_policy.reason", "refund-policy#5")


@pytest.mark.parametrize(
    "answer", ["You get 59.99 USD back.", "You get 59.99 back.", "You get 49.99 EUR back."]
)
def test_a_wrong_amount_or_currency_is_an_amount_finding(answer: str) -> None:
    assert _kinds(ungrounded(answer, _policy_evidence())) == ["amount"], answer


def test_an_id_the_tools_were_not_about_is_an_id_finding() -> None:
    findings = ungrounded("Your order ORD-5002 has shipped.", _order_evidence())
    assert _kinds(findings) == ["id"]


def test_an_invented_reason_is_a_status_finding() -> None:
    answer = "The payment method for invoice INV-1001 was not valid."
    assert _kinds(ungrounded(answer, _policy_evidence())) == ["status"]


def test_a_fact_of_a_kind_no_evidence_has_says_so() -> None:
    findings = ungrounded("Your ticket TCK-123 is open.", Evidence())
    assert [f.describe() for f in findings] == [
        "the answer states an id that is in no tool result or source "
        "(no tool result or source has one)",
        "the answer states a status that is in no tool result or source "
        "(no tool result or source has one)",
    ]


def test_a_finding_names_the_kind_and_origin_but_never_the_value() -> None:
    (finding,) = ungrounded("Your refund of 59.99 USD is on its way.", _policy_evidence())
    assert finding.describe() == (
        "the answer states an amount that is in no tool result or source "
        "(expected from check_refund_policy.refundable_amount)"
    )
    assert "59.99" not in finding.describe(), "the value must stay out of the message"
    assert "59.99" not in repr(finding), "the value must stay out of logs"
    assert finding.written == "59.99 USD", "the caller can still locate it"


@pytest.mark.parametrize(
    ("text", "grounded"),
    [
        ("It arrives on Wednesday.", True),  # 2026-12-09 is a Wednesday
        ("It arrives on Friday.", False),
        ("It arrives tomorrow.", False),
    ],
)
def test_a_weekday_is_grounded_by_a_date_on_it_and_a_relative_day_by_nothing_absolute(
    text: str, grounded: bool
) -> None:
    evidence = Evidence((Fact("date", "2026-12-09", "lookup_order.estimated_delivery"),))

    assert (ungrounded(text, evidence) == []) is grounded, text


def test_a_zero_in_a_field_named_after_a_status_is_an_amount_but_not_that_status() -> None:
    lookup = ToolExchange(
        call=ToolCall(tool="lookup_invoice"), ok=True, result_json='{"refunded": 0.0}'
    )
    evidence = Evidence.from_request([lookup], [])

    assert [(f.kind, f.value) for f in evidence.facts] == [("amount", "0.00")], evidence.facts
