"""Finding personal data in free text: email addresses, payment card numbers, phone numbers
and, on request, person names and street addresses.

Patterns favour precision on billing conversations: invoice and order ids (INV-1001),
amounts ($49.99), dates and digit runs that fail the Luhn checksum are not personal data.
Names need a language model (`shared.pii.entities`), so `find` looks for them, and for
addresses, only when asked: logs and audit records take the cheap pattern path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from shared.pii.entities import address_spans, person_name_spans


class PiiKind(StrEnum):
    """Kinds of personal data; the values match `Redaction.kind` on the bus."""

    EMAIL = "email"
    CARD_NUMBER = "card_number"
    PHONE = "phone"
    PERSON_NAME = "person_name"
    ADDRESS = "address"


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of personal data at `text[start:end]`. Example:

    >>> find("mail bob@example.com")
    [Finding(kind=<PiiKind.EMAIL: 'email'>, start=5, end=20, value='bob@example.com')]
    """

    kind: PiiKind
    start: int
    end: int
    value: str


_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
)

# A match may not continue a longer run of digit groups, on either side: "1234 5678"
# inside a 24-digit reference is neither a card nor a phone number.
_NOT_AFTER_DIGITS = r"(?<![\w+])(?<!\d[\s.-])"
_NOT_BEFORE_DIGITS = r"(?![\s.-]?\d)(?!\w)"

# Digit groups separated by single spaces or dashes; a card is 13 to 19 digits of such a run.
_DIGIT_RUN = re.compile(_NOT_AFTER_DIGITS + r"\d+(?:[ -]\d+)*(?!\w)")
_DIGIT_GROUP = re.compile(r"\d+")
_CARD_DIGITS = range(13, 20)
# Card networks issue numbers starting 2 to 6 (Mastercard, Amex, Visa, Discover, UnionPay...);
# Luhn-valid tracking and reference numbers starting otherwise are not cards.
_CARD_FIRST_DIGITS = frozenset("23456")
# An expiry date or CVV typed right after the number ('... 1111 12 27') is not part of it.
_TRAILING_GROUPS_MAX = 2
_TRAILING_GROUP_DIGITS_MAX = 4

_PHONE = re.compile(
    _NOT_AFTER_DIGITS
    + r"(?:"
    # International: +44 20 7946 0958, +1 (555) 123-4567, +4915112345678. Atomic, so a
    # long digit run fails at once instead of retrying every way of grouping its digits.
    + r"(?>\+\d{1,3}(?:[\s.-]?(?:\(\d{1,4}\)|\d{1,5})){1,7})"
    # North American: (555) 123-4567, 555-123-4567, 1-800-555-0199, 555.123.4567.
    + r"|(?:1[\s.-])?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}"
    # Trunk-prefixed national: 020 7946 0958, 07700 900123, 030-1234567.
    + r"|0\d{2,4}[\s-]\d{3,4}(?:[\s-]?\d{3,4})?"
    + r")"
    + _NOT_BEFORE_DIGITS
)

_PHONE_DIGITS = range(8, 16)  # E.164 allows at most 15 digits; fewer than 8 is no phone number.
_NATIONAL_PHONE_DIGITS = range(10, 12)


def _digits(value: str) -> str:
    return "".join(char for char in value if char.isdigit())


def luhn_valid(digits: str) -> bool:
    """True when the digit string passes the Luhn checksum used by payment cards."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _looks_like_card(digits: str) -> bool:
    return len(digits) in _CARD_DIGITS and digits[0] in _CARD_FIRST_DIGITS and luhn_valid(digits)


def _card_in_run(run: re.Match[str]) -> Finding | None:
    """The Luhn-valid card at the start of a digit run, allowing short groups typed after it."""
    groups = list(_DIGIT_GROUP.finditer(run.group()))
    for trailing in range(min(_TRAILING_GROUPS_MAX, len(groups) - 1) + 1):
        kept = groups[: len(groups) - trailing]
        if trailing and len(groups[len(kept)].group()) > _TRAILING_GROUP_DIGITS_MAX:
            return None
        digits = "".join(group.group() for group in kept)
        if _looks_like_card(digits):
            start, end = run.start(), run.start() + kept[-1].end()
            return Finding(PiiKind.CARD_NUMBER, start, end, run.string[start:end])
    return None


def _find_cards(text: str) -> Iterator[Finding]:
    for run in _DIGIT_RUN.finditer(text):
        card = _card_in_run(run)
        if card is not None:
            yield card


def _find_emails(text: str) -> Iterator[Finding]:
    for match in _EMAIL.finditer(text):
        yield Finding(PiiKind.EMAIL, match.start(), match.end(), match.group())


def _is_phone(value: str) -> bool:
    allowed = _PHONE_DIGITS if value.startswith("+") else _NATIONAL_PHONE_DIGITS
    return len(_digits(value)) in allowed


def _find_phones(text: str) -> Iterator[Finding]:
    for match in _PHONE.finditer(text):
        if _is_phone(match.group()):
            yield Finding(PiiKind.PHONE, match.start(), match.end(), match.group())


def _find_addresses(text: str) -> Iterator[Finding]:
    for start, end in address_spans(text):
        yield Finding(PiiKind.ADDRESS, start, end, text[start:end])


def _find_person_names(text: str) -> Iterator[Finding]:
    for start, end in person_name_spans(text):
        yield Finding(PiiKind.PERSON_NAME, start, end, text[start:end])


Detector = Callable[[str], Iterator[Finding]]

# In priority order: where findings overlap, the earlier detector wins.
_PATTERN_DETECTORS: tuple[Detector, ...] = (_find_emails, _find_cards, _find_phones)
_ENTITY_DETECTORS: tuple[Detector, ...] = (_find_addresses, _find_person_names)


def _overlaps(finding: Finding, taken: list[Finding]) -> bool:
    return any(finding.start < other.end and other.start < finding.end for other in taken)


def find(text: str, *, entities: bool = False) -> list[Finding]:
    """All personal data in `text`, in order of position, without overlaps.

    With `entities`, person names and street addresses too: that runs a language model
    (milliseconds a text, about a second to load once), so sinks that redact every line
    leave it off. Emails, cards and phones win where they overlap a name or address.
    """
    detectors = _PATTERN_DETECTORS + _ENTITY_DETECTORS if entities else _PATTERN_DETECTORS
    taken: list[Finding] = []
    for detect in detectors:
        for finding in detect(text):
            if not _overlaps(finding, taken):
                taken.append(finding)
    return sorted(taken, key=lambda finding: finding.start)
