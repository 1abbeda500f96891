"""Money amounts in free text: every written form, the near misses that are not money."""

from decimal import Decimal

import pytest

from shared.text import MoneyMention, find_money


@pytest.mark.parametrize(
    ("text", "written", "amount", "currency"),
    [
        ("you get $1,200.50 back", "$1,200.50", "1200.50", "USD"),
        ("a charge of 49.99 USD", "49.99 USD", "49.99", "USD"),
        ("billed €12 twice", "€12", "12.00", "EUR"),
        ("they took 12 dollars", "12 dollars", "12.00", "USD"),
        ("an extra 12,50 EUR", "12,50 EUR", "12.50", "EUR"),
        ("an extra 12,50 € fee", "12,50 €", "12.50", "EUR"),
        ("£5.5 fee", "£5.5", "5.50", "GBP"),
        ("EUR 30 deposit", "EUR 30", "30.00", "EUR"),
        ("paid US$ 7", "US$ 7", "7.00", "USD"),
        ("refund 1,000,000 usd", "1,000,000 usd", "1000000.00", "USD"),
        ("only 20 bucks", "20 bucks", "20.00", "USD"),
        ("a 3 pound charge", "3 pound", "3.00", "GBP"),
        ("GBP 2.75 owed", "GBP 2.75", "2.75", "GBP"),
        ("1 euro", "1 euro", "1.00", "EUR"),
    ],
)
def test_each_written_form_is_read_as_one_amount(
    text: str, written: str, amount: str, currency: str
) -> None:
    expected = MoneyMention(
        written=written, amount=Decimal(amount), currency=currency, start=text.index(written)
    )
    assert find_money(text) == [expected], f"money in {text!r}"


@pytest.mark.parametrize(
    "text",
    [
        "Refund INV-1001 please",
        "ORD-5001 USD",
        "order #12 EUR",
        "paid on 2024-05-12",
        "due 12.05.2024 EUR",
        "I paid 49.99 for it",
        "call me at 555 1234",
        "I ordered 3 items",
        "$49.999 is not a price",
        "1,2345 EUR",
        "USD and EUR are currencies",
    ],
)
def test_numbers_without_a_currency_marker_or_inside_ids_and_dates_are_not_money(
    text: str,
) -> None:
    assert find_money(text) == [], f"{text!r} should hold no money amount"


def test_amounts_come_in_order_of_appearance() -> None:
    written = [mention.written for mention in find_money("first 5 EUR, then $3, then £1")]
    assert written == ["5 EUR", "$3", "£1"], "amounts must follow the text's order"


def test_a_prefixed_and_a_suffixed_marker_on_one_number_make_one_amount() -> None:
    mentions = find_money("charged $20.00 USD")
    assert [mention.written for mention in mentions] == ["$20.00"], "overlapping readings"


def test_a_thousands_comma_is_not_read_as_a_decimal_comma() -> None:
    assert find_money("$1,200")[0].amount == Decimal("1200.00"), "1,200 is one thousand two"
