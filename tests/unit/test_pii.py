import pytest

from shared.pii import PiiKind, find, luhn_valid, redact

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
