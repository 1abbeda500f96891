"""Answer slots: the values a model may state, and how they are rendered into its text."""

from __future__ import annotations

import json
import re

from shared.agent import (
    SlotRenderer,
    answer_max_chars,
    answer_option,
    answer_slots,
    output_schema,
    placeholders,
    render_slots,
    whole_sentences,
)
from shared.agent.slots import slots_of_pattern, slotted_text_pattern
from shared.contracts import ToolCall, ToolExchange

ORDER = {
    "order_id": "ORD-5001",
    "status": "shipped",
    "estimated_delivery": "2026-12-09",
    "updated_at": "2026-12-06 13:51:56",
    "carrier": None,
}
ORDER_FACTS = {"lookup_order": ["order_id", "status", "estimated_delivery", "carrier"]}


def _exchange(tool: str, result: object, *, ok: bool = True) -> ToolExchange:
    return ToolExchange(
        call=ToolCall(call_id="c", tool=tool, arguments_json="{}"),
        ok=ok,
        result_json=json.dumps(result),
    )


def test_each_stateable_field_is_a_slot_by_its_name_and_by_tool_and_name() -> None:
    slots = answer_slots([_exchange("lookup_order", ORDER)], ORDER_FACTS)

    assert slots["status"] == slots["lookup_order.status"] == "shipped", slots


def test_a_field_the_tool_does_not_declare_stateable_is_no_slot() -> None:
    slots = answer_slots([_exchange("lookup_order", ORDER)], ORDER_FACTS)

    assert "updated_at" not in slots, "a bookkeeping timestamp became something to state"


def test_a_tool_absent_from_the_facts_states_nothing_and_none_means_every_field() -> None:
    exchange = _exchange("lookup_order", ORDER)

    assert answer_slots([exchange], {}) == {}
    assert "updated_at" in answer_slots([exchange], {"lookup_order": None})


def test_failed_calls_nulls_and_booleans_give_no_slots() -> None:
    failed = _exchange("lookup_order", ORDER, ok=False)
    flags = _exchange("check_refund_policy", {"eligible": True, "reason": None})

    assert answer_slots([failed, flags], {"lookup_order": None, "check_refund_policy": None}) == {}


def test_dates_read_as_words_and_amounts_to_the_cent() -> None:
    slots = answer_slots(
        [_exchange("lookup_order", ORDER), _exchange("issue_refund", {"amount": 20.0})],
        {"lookup_order": None, "issue_refund": None},
    )

    assert slots["estimated_delivery"] == "December 9, 2026", slots
    assert slots["amount"] == "20.00", slots


def test_list_items_are_numbered_and_match_the_declared_path() -> None:
    result = {"orders": [{"order_id": "ORD-5002", "status": "processing"}]}
    slots = answer_slots(
        [_exchange("find_orders_by_email", result)],
        {"find_orders_by_email": ["orders.status"]},
    )

    assert slots == {
        "find_orders_by_email.orders.0.status": "processing",
        "orders.0.status": "processing",
    }


def test_rendering_fills_known_slots_and_leaves_unknown_ones_for_the_guardrail() -> None:
    text = render_slots(
        "Order {order_id} is {status}; {nonsense}.", {"order_id": "ORD-1", "status": "open"}
    )

    assert text == "Order ORD-1 is open; {nonsense}."
    assert placeholders(text) == ["nonsense"]


def test_a_slot_split_across_streamed_pieces_is_rendered_once_complete() -> None:
    renderer = SlotRenderer({"estimated_delivery": "December 9, 2026"})

    pieces = [renderer.feed(p) for p in ["Arrives on {esti", "mated_deli", "very}."]]

    assert pieces == ["Arrives on ", "", "December 9, 2026."]


def test_the_text_pattern_allows_slots_and_forbids_digits_of_its_own() -> None:
    pattern = re.compile(slotted_text_pattern(["status", "lookup_order.status"]))

    assert pattern.match("It is {status}, see {lookup_order.status}.")
    assert not pattern.match("It arrives on 2026-12-09."), "a digit got through"
    assert not pattern.match("It is {updated_at}."), "an unknown slot got through"
    assert not pattern.match('It is "quoted".'), "a quote would end the JSON string"


def test_the_slot_names_are_read_back_from_the_pattern() -> None:
    names = ["status", "lookup_order.status", "orders.0.status"]

    assert sorted(slots_of_pattern(slotted_text_pattern(names)) or []) == sorted(names)
    assert slots_of_pattern(slotted_text_pattern([])) == []
    assert slots_of_pattern("^[a-z]+$") is None, "a pattern of another kind was read as slots"


def test_an_answer_stopped_by_its_length_limit_keeps_its_whole_sentences() -> None:
    assert whole_sentences("It lasts 1 year. It covers motors, batteries or sea") == (
        "It lasts 1 year."
    )
    assert whole_sentences("No sentence ends here") == "No sentence ends here"


def test_the_answers_length_limit_is_read_from_its_schema() -> None:
    schema = output_schema([], answer_option([], max_chars=450))

    assert answer_max_chars(schema) == 450
    assert answer_max_chars(None) is None
