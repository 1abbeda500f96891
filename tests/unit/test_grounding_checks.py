"""The output checks that hold an answer to this request's facts, on the shipped catalog."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from services.guardrail.grounding_checks import GroundingChecks, complete
from shared.config import repo_root
from shared.contracts import Chunk, Envelope, ModelOutput, StepEvent, ToolCall, ToolExchange
from shared.tools import load_tool_catalog
from tests.fixtures.tool_events import SHIPPED_ORDER

CHECKS = GroundingChecks(load_tool_catalog(repo_root() / "config")).checks()
ORDER = SHIPPED_ORDER
# Two days before the order's estimated delivery (2026-12-09).
ASKED_AT_MS = int(datetime(2026, 12, 7, 12, tzinfo=UTC).timestamp() * 1000)


def _order_event(text: str, *, finish_reason: str = "stop") -> StepEvent:
    lookup = ToolExchange(
        call=ToolCall(tool="lookup_order", arguments_json='{"order_id": "ORD-5001"}'),
        ok=True,
        result_json=json.dumps(ORDER),
    )
    return StepEvent(
        envelope=Envelope(created_unix_ms=ASKED_AT_MS),
        tool_exchanges=[lookup],
        model_output=ModelOutput(text=text, finish_reason=finish_reason),
    )


def test_an_answer_stating_the_lookups_facts_is_grounded() -> None:
    text = (
        "Your order ORD-5001 is shipped with UPS, tracking number 1Z999AA10123456784, "
        "and should arrive on December 9, 2026."
    )
    assert CHECKS["grounded"](_order_event(text)) is None


@pytest.mark.parametrize(
    "text",
    [
        "Your order ORD-5001 has been delivered.",
        "Your order ORD-5001 should arrive on 2026-12-06.",  # updated_at: not stateable
        "Your order ORD-5002 has shipped.",
        "Your order should arrive on December 12.",
    ],
)
def test_a_fact_no_stateable_result_field_has_is_refused_without_its_value(text: str) -> None:
    finding = CHECKS["grounded"](_order_event(text))

    assert finding is not None, f"{text!r} passed the grounding check"
    assert "ORD-5002" not in finding, f"the value leaked: {finding}"
    assert "12-06" not in finding, f"the value leaked: {finding}"


@pytest.mark.parametrize(
    "text",
    [
        "Your order ORD-5001 was shipped on December 9, 2026.",
        "Your order ORD-5001 has been delivered on 2026-12-09.",
    ],
)
def test_a_true_date_in_a_tense_its_day_contradicts_is_refused(text: str) -> None:
    finding = CHECKS["grounded"](_order_event(text))

    assert finding is not None, f"{text!r} says a day still to come has passed"
    assert "still to come" in finding, finding


def test_an_action_no_call_made_cannot_be_claimed() -> None:
    finding = CHECKS["claims_match_actions"](_order_event("I have refunded your order."))

    assert finding is not None, "a refund no call made was let through"
    assert "refund" in finding, finding


def _slotted_event(text: str, **slots: str) -> StepEvent:
    event = _order_event(text)
    event.prompt.answer_slots.update(slots)
    return event


def test_a_value_stated_twice_stands_where_another_belongs() -> None:
    text = "Your order ORD-5002 is processing and will be delivered to processing."
    finding = complete(_slotted_event(text, order_id="ORD-5002", status="processing"))

    assert finding is not None, f"{text!r} passed as complete"
    assert "same value twice" in finding, finding


def test_a_value_inside_a_longer_value_is_not_stated_twice() -> None:
    text = "Opened INC-4101 (sev1) for payments, routed to payments-oncall."
    event = _slotted_event(text, service="payments", team="payments-oncall")

    assert complete(event) is None


@pytest.mark.parametrize(
    ("text", "finish_reason", "expected"),
    [
        ("Your order is shipped and", "length", "cut off at the token limit"),
        ("Your order is shipped and", "stop", "ends mid-sentence"),
        ("Your order is {status}.", "stop", "no value for: ['status']"),
        ("It should arrive on December 9, 2026 at .", "stop", "ends mid-sentence"),
        ("It ships with the. Thanks!", "stop", "ends mid-sentence"),
        ("Ticket INC-4109 opened (search_logs: platform-oncall)", "stop", "ends mid-sentence"),
        ("Your order ORD-5001 has shipped and...", "stop", "ends mid-sentence"),
        ("It exceeds the limit of  USD.", "stop", "a value is missing"),
        ("It exceeds the limit of USD.", "stop", "a value is missing"),
        ("We offer [service_name] to customers.", "stop", "placeholder of its own making"),
        ("It is shipped. Thanks. It is  shipped.", "stop", "a value is missing"),
        ("It is shipped. Thanks! It is shipped.", "stop", "repeats itself"),
    ],
)
def test_an_incomplete_answer_is_refused(text: str, finish_reason: str, expected: str) -> None:
    finding = complete(_order_event(text, finish_reason=finish_reason))

    assert finding is not None, f"{text!r} ({finish_reason}) passed as complete"
    assert expected in finding, finding


@pytest.mark.parametrize(
    "text", ["Your order is shipped (with UPS).", "I have refunded 49.99 USD for invoice INV-1001."]
)
def test_a_whole_answer_is_complete(text: str) -> None:
    assert complete(_order_event(text)) is None


def _product_event(text: str) -> StepEvent:
    event = StepEvent(model_output=ModelOutput(text=text, finish_reason="stop"))
    event.retrieval.answer_passage = "Accidental damage is covered if bought within 30 days."
    event.retrieval.answer_source = "warranty#3"
    event.retrieval.second_passage = "The warranty lasts 1 year from the date of delivery."
    return event


@pytest.mark.parametrize(
    "text", ["The warranty lasts one year.", "A protection plan must be bought within 30 days."]
)
def test_an_answer_stating_a_fact_of_either_passage_states_what_was_asked(text: str) -> None:
    assert CHECKS["states_what_was_asked"](_product_event(text)) is None


def test_an_answer_stating_no_fact_of_the_passages_misses_what_was_asked() -> None:
    finding = CHECKS["states_what_was_asked"](_product_event("Our warranty is great."))

    assert finding is not None, "an answer without the asked fact passed"
    assert "warranty#3" in finding, finding


def test_a_passage_without_a_fact_does_not_vouch_for_an_answer() -> None:
    event = _product_event("Express shipping is free.")
    event.retrieval.answer_passage = "Express shipping costs 14.99 USD on any order."
    event.retrieval.second_passage = "You can change the delivery address until the order ships."

    finding = CHECKS["states_what_was_asked"](event)

    assert finding is not None, "a fact-less second passage let an answer without the fact pass"


def test_passages_without_facts_ask_for_none() -> None:
    event = _product_event("You can change it until the order ships.")
    event.retrieval.answer_passage = "You can change the delivery address until the order ships."
    event.retrieval.second_passage = "Ask the carrier to redirect the parcel."

    assert CHECKS["states_what_was_asked"](event) is None


LABEL_POLICY = (
    "Return shipping is free when the item arrived damaged; otherwise the cost of the label "
    "is deducted from your refund."
)


def _quoting_event(chunk_text: str) -> StepEvent:
    event = StepEvent(model_output=ModelOutput(text=f"Our Refund policy says: {LABEL_POLICY}"))
    event.retrieval.chunks.append(Chunk(source_id="refund-policy#3", text=chunk_text))
    return event


def test_a_retrieved_sentence_quoted_word_for_word_states_no_status_or_action() -> None:
    event = _quoting_event(f"## Returns\nStart a return. {LABEL_POLICY}")

    assert CHECKS["grounded"](event) is None
    assert CHECKS["claims_match_actions"](event) is None


def test_the_same_words_without_the_source_are_checked() -> None:
    event = _quoting_event("Start a return from your order page.")

    assert CHECKS["claims_match_actions"](event) is not None, "an unquoted refund claim passed"


def test_a_best_passage_without_a_fact_asks_for_none() -> None:
    event = _product_event("Yes, the return label is free for a damaged item.")
    event.retrieval.answer_passage = "Return shipping is free when the item arrived damaged."
    event.retrieval.second_passage = "Items can be returned within 30 days of delivery."

    assert CHECKS["states_what_was_asked"](event) is None


def _must_state_status_event(text: str) -> StepEvent:
    event = _order_event(text)
    event.prompt.answer_slots.update({"status": "shipped", "estimated_delivery": "2026-12-09"})
    event.prompt.must_state.extend(["status", "estimated_delivery"])
    return event


@pytest.mark.parametrize(
    "text",
    [
        "Order ORD-5001 is ready to be shipped and will arrive on 2026-12-09.",
        "Order ORD-5001 will be shipped soon and should arrive on 2026-12-09.",
        "Once it is shipped, order ORD-5001 should arrive on 2026-12-09.",
    ],
)
def test_a_status_the_answer_only_mentions_is_not_stated(text: str) -> None:
    finding = CHECKS["states_what_was_asked"](_must_state_status_event(text))

    assert finding == "the answer does not state status", f"{text!r}: {finding}"


def test_a_status_the_answer_asserts_is_stated() -> None:
    text = "Your order ORD-5001 has shipped and should arrive on 2026-12-09."

    assert CHECKS["states_what_was_asked"](_must_state_status_event(text)) is None


def test_the_invoices_refunded_total_from_before_the_refund_is_not_stateable() -> None:
    invoice = {"invoice_id": "INV-1001", "amount": 49.99, "currency": "USD", "status": "paid",
               "charged_count": 2, "issued_at": "2026-11-20", "refunded": 0.0}  # fmt: skip
    lookup = ToolExchange(
        call=ToolCall(tool="lookup_invoice", arguments_json='{"invoice_id": "INV-1001"}'),
        ok=True,
        result_json=json.dumps(invoice),
    )
    event = StepEvent(
        envelope=Envelope(created_unix_ms=ASKED_AT_MS),
        tool_exchanges=[lookup],
        model_output=ModelOutput(text="Invoice INV-1001 is for 49.99 USD and 0.00 USD came back."),
    )

    assert CHECKS["grounded"](event) is not None, "a stale refunded total passed"
    event.model_output.text = "Invoice INV-1001 is for 49.99 USD."
    assert CHECKS["grounded"](event) is None
