"""Entity extraction: ids and money amounts, normalised, deduplicated, in order of appearance."""

import pytest

from services.intent.entities import extract_entities


def _pairs(text: str) -> list[tuple[str, str]]:
    return [(entity.kind, entity.value) for entity in extract_entities(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Refund INV-1001 please", [("invoice_id", "INV-1001")]),
        ("it's about invoice 1001", [("invoice_id", "INV-1001")]),
        ("inv-2040 was charged twice", [("invoice_id", "INV-2040")]),
        ("Invoice number: 7788", [("invoice_id", "INV-7788")]),
        ("invoice #3310", [("invoice_id", "INV-3310")]),
        ("Where is ORD-5001?", [("order_id", "ORD-5001")]),
        ("any news on order #5001", [("order_id", "ORD-5001")]),
        ("my order no. 6123 is late", [("order_id", "ORD-6123")]),
        ("I was charged $49.99", [("amount", "49.99"), ("currency", "USD")]),
        ("a charge of 49.99 USD", [("amount", "49.99"), ("currency", "USD")]),
        ("billed €12 twice", [("amount", "12.00"), ("currency", "EUR")]),
        ("they took 12 dollars", [("amount", "12.00"), ("currency", "USD")]),
        ("£5.5 fee", [("amount", "5.50"), ("currency", "GBP")]),
        ("$1,299.00 laptop", [("amount", "1299.00"), ("currency", "USD")]),
        ("12,50 € extra", [("amount", "12.50"), ("currency", "EUR")]),
        ("EUR 30 deposit", [("amount", "30.00"), ("currency", "EUR")]),
        ("ALERT service=payments: 5xx rate 14%", [("service", "payments")]),
        ("service: Checkout p95 above objective", [("service", "checkout")]),
        ("alert service = db-primary degraded", [("service", "db-primary")]),
    ],
)
def test_each_entity_form_is_normalised(text: str, expected: list[tuple[str, str]]) -> None:
    assert _pairs(text) == expected, f"entities of {text!r}"


@pytest.mark.parametrize(
    "text",
    [
        "I ordered 3 items last week",
        "my order 12 items arrived",
        "I paid 49.99 for it",
        "the investment of 1000 was fine",
        "call me at 555 1234",
        "the payments service is down",
        "customer service was rude",
        "service= ",
    ],
)
def test_numbers_without_an_id_or_currency_marker_are_not_entities(text: str) -> None:
    assert _pairs(text) == [], f"{text!r} should yield no entities"


def test_entities_come_in_order_of_appearance() -> None:
    pairs = _pairs("Refund $49.99 for order #5001 on invoice 1001")
    assert pairs == [
        ("amount", "49.99"),
        ("currency", "USD"),
        ("order_id", "ORD-5001"),
        ("invoice_id", "INV-1001"),
    ], "entities must follow the text's order"


def test_repeated_entities_are_listed_once() -> None:
    pairs = _pairs("INV-1001 and invoice 1001, charged $20 and 20 USD ($20.00 USD)")
    assert pairs == [
        ("invoice_id", "INV-1001"),
        ("amount", "20.00"),
        ("currency", "USD"),
    ], "each (kind, value) must appear once"


def test_an_order_id_is_not_read_as_an_amount() -> None:
    assert _pairs("ORD-5001 USD") == [("order_id", "ORD-5001")], "id digits must not be money"


def test_a_vault_token_is_an_entity_of_its_kind() -> None:
    assert _pairs("Where are my orders? I'm [EMAIL#3f9a2c1b5d7e], ORD-5001") == [
        ("email", "[EMAIL#3f9a2c1b5d7e]"),
        ("order_id", "ORD-5001"),
    ], "a token stands for the value it replaced; it is extracted as that kind"
