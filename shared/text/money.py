"""Finding money amounts in free text: `$1,200.50`, `49.99 USD`, `€12`, `12 dollars`, `12,50 EUR`.

An amount needs a currency marker right before or after it; bare numbers, ids (INV-1001,
ORD-5001 USD) and dates are not money. A comma followed by exactly three digits groups
thousands ("1,200"); followed by one or two digits it is a decimal comma ("12,50").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from itertools import chain

_CENT = Decimal("0.01")

# A thousands group may not run on into more digits or groups, and the amount may not be
# followed by more digits ("$49.999", "1,2345 EUR" are not amounts).
_NUMBER = r"(?P<whole>\d{1,3}(?:,\d{3})+(?![\d,])|\d+)(?P<fraction>[.,]\d{1,2}(?!\d))?(?![.,]?\d)"
_CURRENCIES = {
    "$": "USD",
    "us$": "USD",
    "usd": "USD",
    "dollar": "USD",
    "dollars": "USD",
    "bucks": "USD",
    "€": "EUR",
    "eur": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "£": "GBP",
    "gbp": "GBP",
    "pound": "GBP",
    "pounds": "GBP",
}
_PREFIXED = re.compile(r"(?P<currency>US\$|\$|€|£|\b(?:USD|EUR|GBP)\b)\s?" + _NUMBER, re.IGNORECASE)
# Not inside an id, a dotted date or a longer number: "ORD-5001 USD", "#12 EUR".
_SUFFIXED = re.compile(
    r"(?<![\w.,#-])"
    + _NUMBER
    + r"\s?(?P<currency>\$|€|£|(?:USD|EUR|GBP|dollars?|euros?|pounds?|bucks)\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class MoneyMention:
    """An amount of money: `written` as in the text (currency marker included) at `start`,
    `amount` to the cent, `currency` as an ISO 4217 code (USD, EUR, GBP). Example:

    >>> find_money("you get $1,200.50 back")
    [MoneyMention(written='$1,200.50', amount=Decimal('1200.50'), currency='USD', start=8)]
    """

    written: str
    amount: Decimal
    currency: str
    start: int


def find_money(text: str) -> list[MoneyMention]:
    """The money amounts in `text`, in order of appearance and not overlapping.

    Where a prefixed and a suffixed reading overlap ("$20 USD"), the earlier one wins.
    """
    matches = sorted(
        chain(_PREFIXED.finditer(text), _SUFFIXED.finditer(text)),
        key=lambda match: (match.start(), -match.end()),
    )
    mentions: list[MoneyMention] = []
    taken_until = 0
    for match in matches:
        if match.start() >= taken_until:
            mentions.append(_mention(match))
            taken_until = match.end()
    return mentions


def _mention(match: re.Match[str]) -> MoneyMention:
    cents = match["fraction"][1:] if match["fraction"] else "0"
    amount = Decimal(f"{match['whole'].replace(',', '')}.{cents}").quantize(_CENT)
    return MoneyMention(
        written=match.group(),
        amount=amount,
        currency=_CURRENCIES[match["currency"].lower()],
        start=match.start(),
    )
