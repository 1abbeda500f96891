import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from shared.config import repo_root
from shared.contracts import Turn, UserRequest
from shared.pii import PiiKind, find, luhn_valid, redact
from shared.pii.entities import load_pipeline
from shared.pii.requests import redact_request

POSITIVES = [
    (
        "write to ann.lee+billing@example.co.uk today",
        PiiKind.EMAIL,
        "ann.lee+billing@example.co.uk",
    ),
    ("mail BOB@Example.COM.", PiiKind.EMAIL, "BOB@Example.COM"),
    ("card 4111 1111 1111 1111 please", PiiKind.CARD_NUMBER, "4111 1111 1111 1111"),
    ("card 4111-1111-1111-1111", PiiKind.CARD_NUMBER, "4111-1111-1111-1111"),
    ("card 5555555555554444", PiiKind.CARD_NUMBER, "5555555555554444"),
    ("amex 3782 822463 10005", PiiKind.CARD_NUMBER, "3782 822463 10005"),
    ("card 4111 1111 1111 1111 12/27", PiiKind.CARD_NUMBER, "4111 1111 1111 1111"),
    ("card 4111111111111111 123", PiiKind.CARD_NUMBER, "4111111111111111"),
    ("call +44 20 7946 0958 now", PiiKind.PHONE, "+44 20 7946 0958"),
    ("call +1 (555) 123-4567", PiiKind.PHONE, "+1 (555) 123-4567"),
    ("call +4915112345678", PiiKind.PHONE, "+4915112345678"),
    ("call +33 6 12 34 56 78", PiiKind.PHONE, "+33 6 12 34 56 78"),
    ("call (555) 123-4567", PiiKind.PHONE, "(555) 123-4567"),
    ("call 555-123-4567.", PiiKind.PHONE, "555-123-4567"),
    ("call 555.123.4567", PiiKind.PHONE, "555.123.4567"),
    ("call 1-800-555-0199", PiiKind.PHONE, "1-800-555-0199"),
    ("call 020 7946 0958", PiiKind.PHONE, "020 7946 0958"),
    ("call 07700 900123", PiiKind.PHONE, "07700 900123"),
]

NEAR_MISSES = [
    "invoice INV-1001 and order ORD-5001",
    "it cost $49.99, or 1,234.56 EUR",
    "paid on 2024-01-15, 15/01/2024 and 01.02.2024 at 14:30",
    "card 4111 1111 1111 1112",
    "reference 1234567890123",
    "order 1234567890",
    "tracking 1234 5678 9012 3456 7890 1234",
    "Luhn-valid tracking number 9400100000000005 outside card networks",
    "version 1.2.3 of build 20240115-0001",
    "SKU 555-12 times 3",
    "user@localhost",
]


@pytest.mark.parametrize(("text", "kind", "value"), POSITIVES)
def test_personal_data_is_found_with_its_kind_and_exact_span(
    text: str, kind: PiiKind, value: str
) -> None:
    findings = find(text)

    assert [(f.kind, f.value) for f in findings] == [(kind, value)], f"in {text!r}"
    assert text[findings[0].start : findings[0].end] == value, "span does not cover the value"


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_ids_amounts_dates_and_luhn_invalid_runs_are_not_personal_data(text: str) -> None:
    assert find(text) == [], f"false positive in {text!r}"


@pytest.mark.parametrize(
    ("digits", "valid"),
    [("4111111111111111", True), ("79927398713", True), ("4111111111111112", False)],
)
def test_luhn_checksum_accepts_only_valid_numbers(digits: str, valid: bool) -> None:
    assert luhn_valid(digits) is valid, digits


def test_redact_replaces_each_kind_with_its_placeholder_and_counts_them() -> None:
    result = redact("a@b.io, c@d.io, 4111 1111 1111 1111, +44 20 7946 0958 on INV-1001")

    assert result.text == "[EMAIL], [EMAIL], [CARD], [PHONE] on INV-1001", result.text
    assert result.counts == {PiiKind.EMAIL: 2, PiiKind.CARD_NUMBER: 1, PiiKind.PHONE: 1}


def test_redact_leaves_clean_text_untouched_with_no_counts() -> None:
    result = redact("refund INV-1001 for $49.99")

    assert result.text == "refund INV-1001 for $49.99"
    assert result.counts == {}, "clean text must report no redactions"


def test_redacting_redacted_text_changes_nothing() -> None:
    once = redact("reach me at ann@example.com or 555-123-4567")

    twice = redact(once.text)

    assert twice.text == once.text
    assert twice.counts == {}, "placeholders must not be detected as personal data"


def test_digits_inside_an_email_are_part_of_the_email_not_a_phone() -> None:
    findings = find("5551234567@example.com")

    assert [f.kind for f in findings] == [PiiKind.EMAIL], findings


def test_findings_come_in_text_order() -> None:
    findings = find("+44 20 7946 0958 then ann@example.com then 4111 1111 1111 1111")

    assert [f.kind for f in findings] == [PiiKind.PHONE, PiiKind.EMAIL, PiiKind.CARD_NUMBER]


NAMES = [
    ("Hi, this is Jane Roe about my refund", "Jane Roe"),
    ("Please send the invoice to María José García today", "María José García"),
    ("Mr. O'Neill called about order ORD-5001.", "O'Neill"),
    ("Where is my order? It was placed by Priya Patel.", "Priya Patel"),
    ("Can you refund Emily Chen's order?", "Emily Chen"),
    ("The account belongs to Anna-Lena Müller.", "Anna-Lena Müller"),
    ("Forward this to Dr. Ahmed Khan please", "Ahmed Khan"),
    ("Thanks for the help.\nRegards,\nTom", "Tom"),
]

ADDRESSES = [
    (
        "ship to 350 Fifth Avenue, Suite 200, New York, NY 10118 please",
        "350 Fifth Avenue, Suite 200, New York, NY 10118",
    ),
    (
        "I live at 1600 Pennsylvania Avenue NW, Washington, DC 20500",
        "1600 Pennsylvania Avenue NW, Washington, DC 20500",
    ),
    ("send it to 42 Elm St. Apt 4B instead", "42 Elm St. Apt 4B"),
    ("we moved to 12 Oak Lane.", "12 Oak Lane"),
    ("deliver to 221B Baker Street, London NW1 6XE.", "221B Baker Street, London NW1 6XE"),
    ("Flat 3, 12 Baker Street\nLondon W1U 3BW", "Flat 3, 12 Baker Street\nLondon W1U 3BW"),
    ("the office is 10 Downing Street, SW1A 2AA", "10 Downing Street, SW1A 2AA"),
]

# Billing-conversation text that looks like a name or an address to a careless detector.
ENTITY_NEAR_MISSES = [
    "invoice INV-1001 for the Pro plan",
    "Acme Corp charged me twice",
    "The payment was due on Monday",
    "Please read the Refund Policy first",
    "Hi there, my order is late",
    "Thanks, Support",
    "Dear Customer, your invoice is ready",
    "Do you accept Apple Pay?",
    "Best regards, The Acme Team",
    "I bought 2 items",
    "order ORD-5001 is on its way",
    "upgrade to version 3 Way Sync",
    "add 3 Pro Plan seats",
    "it takes 3 to 5 business days",
    "[NAME] at [ADDRESS] asked about [EMAIL]",
    "[NAME#3f9a2c1b5d7e] wrote again from [ADDRESS#0a1b2c3d4e5f]",
]


def _kinds_and_values(text: str) -> list[tuple[PiiKind, str]]:
    return [(f.kind, f.value) for f in find(text, entities=True)]


@pytest.mark.parametrize(("text", "name"), NAMES)
def test_person_names_are_found_with_entities(text: str, name: str) -> None:
    assert _kinds_and_values(text) == [(PiiKind.PERSON_NAME, name)], f"in {text!r}"


@pytest.mark.parametrize(("text", "address"), ADDRESSES)
def test_street_addresses_are_found_with_their_unit_and_city_or_postcode(
    text: str, address: str
) -> None:
    assert _kinds_and_values(text) == [(PiiKind.ADDRESS, address)], f"in {text!r}"


@pytest.mark.parametrize("text", ENTITY_NEAR_MISSES)
def test_products_policies_greetings_ids_and_placeholders_are_not_names_or_addresses(
    text: str,
) -> None:
    assert find(text, entities=True) == [], f"false positive in {text!r}"


def test_names_and_addresses_are_looked_for_only_when_asked() -> None:
    text = "Jane Roe lives at 12 Elm Road"

    assert find(text) == [], "the default pattern path must not run the language model"
    assert redact(text).text == text


def test_redact_with_entities_replaces_names_and_addresses_and_counts_them() -> None:
    result = redact("Jane Roe, 42 Elm Road, Leeds LS1 4AP, jane@example.com", entities=True)

    assert result.text == "[NAME], [ADDRESS], [EMAIL]", result.text
    assert result.counts == {PiiKind.PERSON_NAME: 1, PiiKind.ADDRESS: 1, PiiKind.EMAIL: 1}


def test_emails_cards_and_phones_are_kept_whole_beside_names() -> None:
    findings = _kinds_and_values("Contact Jane Roe at jane.roe@example.com or 555-123-4567")

    assert findings == [
        (PiiKind.PERSON_NAME, "Jane Roe"),
        (PiiKind.EMAIL, "jane.roe@example.com"),
        (PiiKind.PHONE, "555-123-4567"),
    ]


def test_redacting_names_and_addresses_twice_changes_nothing() -> None:
    once = redact(
        "I'm Jane Roe at 221B Baker Street, London NW1 6XE, ann@example.com", entities=True
    )

    twice = redact(once.text, entities=True)

    assert twice.text == once.text
    assert twice.counts == {}, "[NAME] and [ADDRESS] must not be detected as personal data"


def test_redact_request_finds_names_in_the_text_and_every_history_turn() -> None:
    request = UserRequest(
        text="Refund INV-1001 for Jane Roe",
        history=[Turn(role="user", content="My name is Priya Patel")],
    )

    counts = redact_request(request)

    assert request.text == "Refund INV-1001 for [NAME]"
    assert request.history[0].content == "My name is [NAME]"
    assert counts == {PiiKind.PERSON_NAME: 2}


def test_the_pipeline_loads_only_named_entity_recognition() -> None:
    assert load_pipeline().pipe_names == ["ner"], "unused components slow every request"


def test_concurrent_callers_get_the_same_findings_as_one_caller() -> None:
    texts = [text for text, _ in NAMES] * 4

    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(_kinds_and_values, texts))

    assert concurrent == [_kinds_and_values(text) for text in texts]


def _route_messages() -> list[str]:
    texts: list[str] = []
    for name in ("tuning.yaml", "test.yaml"):
        data = yaml.safe_load((repo_root() / "tests/data/routes" / name).read_text())
        texts.extend(message["text"] for message in data["messages"])
    return texts


def _benign_injection_eval_messages() -> list[str]:
    lines = (repo_root() / "tests/data/injection/eval.jsonl").read_text().splitlines()
    return [row["text"] for row in map(json.loads, lines) if row["label"] == "benign"]


def _knowledge_documents() -> list[str]:
    return [path.read_text() for path in sorted((repo_root() / "config/knowledge").iterdir())]


@pytest.mark.parametrize(
    "texts", [_route_messages, _benign_injection_eval_messages, _knowledge_documents]
)
def test_the_repositorys_own_messages_and_documents_hold_no_names_or_addresses(
    texts: Callable[[], list[str]],
) -> None:
    flagged = [
        (f.kind.value, f.value)
        for text in texts()
        for f in find(text, entities=True)
        if f.kind in {PiiKind.PERSON_NAME, PiiKind.ADDRESS}
    ]

    assert flagged == [], f"false positives in {texts.__name__}: {flagged}"
