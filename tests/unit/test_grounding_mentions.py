"""The facts a text states: each written form of a date, time, amount, duration, id and
status, read to one value; the near misses that state no such fact."""

from __future__ import annotations

import statistics
import time

import pytest

import shared.grounding
from shared.grounding import (
    ActionVocabulary,
    Kind,
    Mention,
    claimed_actions,
    find_mentions,
    load_pipeline,
)


def _only(text: str, kind: Kind) -> list[str]:
    return [m.value for m in find_mentions(text) if m.kind == kind]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("arrives 2026-12-09.", "2026-12-09"),
        ("arrives 2026/12/09.", "2026-12-09"),
        ("arrives on December 9.", "--12-09"),
        ("arrives on December 9th.", "--12-09"),
        ("arrives on Dec 9, 2026.", "2026-12-09"),
        ("arrives on Dec. 9th, 2026.", "2026-12-09"),
        ("arrives on DECEMBER 9 2026.", "2026-12-09"),
        ("arrives on 9 December 2026.", "2026-12-09"),
        ("arrives on the 9th of December.", "--12-09"),
        ("arrives on Wednesday, December 9, 2026.", "2026-12-09"),
        ("arrives on 12/09/2026.", "2026-12-09"),
        ("arrives on 25/12/2026.", "2026-12-25"),
        ("arrives on 09.12.2026.", "2026-12-09"),
        ("issued in November 2026.", "2026-11"),
        ("due February 29.", "--02-29"),
    ],
)
def test_each_written_date_is_one_date_in_iso_form(text: str, value: str) -> None:
    assert _only(text, "date") == [value], f"dates in {text!r}"


def test_a_datetime_states_its_date_and_its_time_apart() -> None:
    mentions = find_mentions("updated 2026-12-06 13:51:56")
    assert [(m.kind, m.value) for m in mentions] == [("date", "2026-12-06"), ("time", "13:51")]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("It arrives tomorrow.", "relative:tomorrow"),
        ("It should arrive within the next day.", "relative:within the next day"),
        ("Expect it next week.", "relative:next week"),
        ("It arrives on Monday.", "weekday:monday"),
    ],
)
def test_days_named_relative_to_today_and_weekdays_are_dates_of_their_own(
    text: str, value: str
) -> None:
    assert [m.value for m in find_mentions(text, kinds={"date"})] == [value]


@pytest.mark.parametrize(
    "text",
    [
        "We may 3 times ask.",
        "February 30 is no day.",
        "version 2026.12",
        "call 12/09",
        "order 20261209",
    ],
)
def test_impossible_days_and_number_runs_are_no_dates(text: str) -> None:
    assert _only(text, "date") == [], f"{text!r} should state no date"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("at 13:51", "13:51"),
        ("at 1:51 pm", "13:51"),
        ("at 1:51PM", "13:51"),
        ("at 9:05 a.m.", "09:05"),
        ("by 3pm", "15:00"),
        ("by 12 am", "00:00"),
        ("by 12:30 pm", "12:30"),
        ("at 13:51:56", "13:51"),
    ],
)
def test_each_written_time_is_one_time_on_the_24_hour_clock(text: str, value: str) -> None:
    assert _only(text, "time") == [value], f"times in {text!r}"


@pytest.mark.parametrize("text", ["at 25:00", "at 13:61", "at 13 pm", "score 3:1:2"])
def test_impossible_clock_readings_are_no_times(text: str) -> None:
    assert _only(text, "time") == [], f"{text!r} should state no time"


@pytest.mark.parametrize(
    ("text", "value", "currency"),
    [
        ("a refund of $49.99", "49.99", "USD"),
        ("a refund of 49.99 USD", "49.99", "USD"),
        ("a refund of €12", "12.00", "EUR"),
        ("a refund of 49.99", "49.99", ""),
        ("a refund of 1,200.50", "1200.50", ""),
    ],
)
def test_amounts_with_a_currency_and_bare_two_decimal_numbers_are_amounts(
    text: str, value: str, currency: str
) -> None:
    amounts = [(m.value, m.currency) for m in find_mentions(text) if m.kind == "amount"]
    assert amounts == [(value, currency)], f"amounts in {text!r}"


@pytest.mark.parametrize(
    "text", ["3 items", "version 1.25.3", "a 12.50% fee", "call 555 1234", "rated 4.5"]
)
def test_counts_versions_and_percentages_are_no_amounts(text: str) -> None:
    assert _only(text, "amount") == [], f"{text!r} should state no amount"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("in 5-7 business days", "5-7 business_day"),
        ("in 5\u20137 business days", "5-7 business_day"),
        ("in 5 to 7 business days", "5-7 business_day"),
        ("in five to seven working days", "5-7 business_day"),
        ("in 5-7 days", "5-7 day"),
        ("within 30 days", "30 day"),
        ("a 30-day window", "30 day"),
        ("within thirty days", "30 day"),
        ("14 days", "14 day"),
        ("2 weeks", "2 week"),
        ("two weeks", "2 week"),
        ("one year", "1 year"),
        ("1 year", "1 year"),
        ("12 months", "12 month"),
        ("twelve months", "12 month"),
        ("24 hours", "24 hour"),
        ("twenty-one days", "21 day"),
        ("2 extra business days", "2 business_day"),
    ],
)
def test_each_written_duration_is_a_count_and_a_singular_unit(text: str, value: str) -> None:
    assert _only(text, "duration") == [value], f"durations in {text!r}"


@pytest.mark.parametrize("text", ["Have a nice day!", "a day pass", "every week", "business day"])
def test_a_unit_without_a_number_is_no_duration(text: str) -> None:
    assert _only(text, "duration") == [], f"{text!r} should state no duration"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("invoice INV-1001", "INV-1001"),
        ("order ORD-5001.", "ORD-5001"),
        ("payment PAY-77", "PAY-77"),
        ("payment PAY-3F9A2C1B5D7E", "PAY-3F9A2C1B5D7E"),
        ("ticket TCK-123", "TCK-123"),
        ("customer CUS-100", "CUS-100"),
        ("order ord-5001", "ORD-5001"),
        ("tracking 1Z999AA10123456784", "1Z999AA10123456784"),
        ("tracking JD014600006281230", "JD014600006281230"),
    ],
)
def test_record_ids_and_tracking_numbers_are_ids_in_upper_case(text: str, value: str) -> None:
    assert _only(text, "id") == [value], f"ids in {text!r}"


@pytest.mark.parametrize(
    "text",
    [
        "on 2026-12-09",
        "of 49.99 USD",
        "in 5-7 business days",
        "with UPS",
        "an e-mail",
        "UTF-8 text",
        "ABCDEFGHIJK12",
        "my email is [EMAIL#3f9a2c1b5d7e]",
    ],
)
def test_dates_amounts_durations_words_and_vault_tokens_are_no_ids(text: str) -> None:
    assert _only(text, "id") == [], f"{text!r} should state no id"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Your order ORD-5001 has shipped.", "shipped"),
        ("Your order ORD-5001 arrived on December 9, 2026.", "delivered"),
        ("Your parcel has arrived.", "delivered"),
        ("Your order is currently being processed.", "processing"),
        ("Your order ORD-5002 is processed.", "processed"),
        ("Your order has been delivered.", "delivered"),
        ("It was dispatched yesterday.", "dispatched"),
        ("The order is in transit.", "in transit"),
        ("Your parcel is out for delivery.", "out for delivery"),
        ("Your order ORD-5003 is still on its way.", "shipped"),
        ("Your order is still processing.", "processing"),
        ("The refund is pending.", "pending"),
        ("The order was canceled.", "cancelled"),
        ("Invoice INV-1001 is paid.", "paid"),
        ("Invoice INV-1001 is unpaid.", "unpaid"),
        ("The invoice was voided.", "void"),
        ("Your ticket TCK-123 is open.", "open"),
        ("The ticket is resolved.", "resolved"),
        ("Your invoice is eligible for a refund.", "eligible"),
        ("Your invoice is ineligible for a refund.", "not eligible"),
        ("Your invoice is not eligible for a refund.", "not eligible"),
        ("The payment failed.", "failed"),
        ("A refund was issued.", "issued"),
        ("The payment method for invoice INV-1001 was not valid.", "invalid"),
        ("Your order has not been delivered yet.", "not delivered"),
        ("Your cancelled order is here.", "cancelled"),
    ],
)
def test_a_status_asserted_of_something_is_one_status_in_its_own_canonical_form(
    text: str, value: str
) -> None:
    assert _only(text, "status") == [value], f"statuses in {text!r}"


@pytest.mark.parametrize(
    "text",
    [
        "It will be delivered on December 9.",
        "Your refund is on its way to your card.",
        "It should be delivered soon.",
        "It is expected to be delivered on Friday.",
        "Once it is delivered, you can return it.",
        "When it is delivered, you will get an email.",
        "If it is eligible, we will refund it.",
        "Has your order been delivered?",
        "Cancelled orders are refunded in full.",
        "A cancelled order is refunded in full.",
        "We shipped it yesterday.",
        "You were refunded on Monday.",
        "We are processing your request.",
        "You can open a ticket.",
    ],
)
def test_future_conditional_generic_and_personal_status_words_assert_no_status(
    text: str,
) -> None:
    assert _only(text, "status") == [], f"{text!r} should assert no status"


def test_two_statuses_of_one_subject_are_both_asserted() -> None:
    assert _only("Your invoice is paid and closed.", "status") == ["paid", "closed"]


def test_mentions_come_in_order_with_the_words_as_written_at_their_span() -> None:
    text = "Order ORD-5001 shipped; 49.99 USD refunded on Dec 9 at 1:51 pm, in 5-7 business days."
    mentions = find_mentions(text)
    assert [m.kind for m in mentions] == [
        "id",
        "status",
        "amount",
        "status",
        "date",
        "time",
        "duration",
    ], f"kinds in order: {mentions}"
    assert all(text[m.start : m.end] == m.written for m in mentions), mentions


def test_only_the_asked_kinds_are_returned() -> None:
    text = "Order ORD-5001 has shipped and arrives Dec 9."
    assert [m.kind for m in find_mentions(text, kinds={"date", "status"})] == ["status", "date"]


def test_a_mention_is_a_frozen_value() -> None:
    mention = Mention("id", "INV-1001", "INV-1001", 0, 8)
    with pytest.raises(AttributeError):
        mention.value = "INV-1002"  # type: ignore[misc]


def test_the_public_names_are_pinned() -> None:
    assert set(shared.grounding.__all__) == {
        "KINDS",
        "ActionVocabulary",
        "Claim",
        "Evidence",
        "Fact",
        "Finding",
        "FindingKind",
        "Kind",
        "Mention",
        "claimed_actions",
        "mentioned_actions",
        "find_mentions",
        "load_pipeline",
        "misdated",
        "refused_actions",
        "is_grounded",
        "unbacked_claims",
        "ungrounded",
    }


def test_reading_a_short_answer_takes_milliseconds_once_the_parser_is_loaded() -> None:
    answer = (
        "Your order ORD-5001 has shipped with UPS, tracking number 1Z999AA10123456784, and "
        "should arrive on December 9, 2026. I have refunded 49.99 USD to your card; refunds "
        "take 5-7 business days. Your invoice INV-1001 is paid. Anything else I can do?"
    )
    actions = {"refund": ActionVocabulary(frozenset({"refund", "credit"}))}
    load_pipeline()
    timings = []
    for _ in range(15):
        started = time.perf_counter()
        find_mentions(answer)
        claimed_actions(answer, actions)
        timings.append(time.perf_counter() - started)
    # A few ms each on an idle machine; the bound leaves room for a busy shared CPU.
    assert statistics.median(timings) < 0.1, f"median {statistics.median(timings):.3f} s"
