"""Entity extraction by regular expressions: invoice and order ids, money amounts.

Pure and deterministic; emails never reach it (the input guardrail redacts them).
"""

from __future__ import annotations

import re
from decimal import Decimal

from shared.contracts import Entity

_ID_SUFFIX = r"(?:\s*(?:#|no\.?|num(?:ber)?\.?|id)\s*:?)?\s*[-#:]?\s*(?P<number>\d{3,})\b"
_INVOICE = re.compile(r"\binv(?:oice)?" + _ID_SUFFIX, re.IGNORECASE)
_ORDER = re.compile(r"\bord(?:er)?" + _ID_SUFFIX, re.IGNORECASE)

# "1,299.00", "12.5", "12,50" (decimal comma), "49"
_NUMBER = r"(?P<number>\d{1,3}(?:,\d{3})+(?![\d,])|\d+)(?P<fraction>[.,]\d{1,2}(?!\d))?"
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
}
_PREFIXED_MONEY = re.compile(
    r"(?P<currency>US\$|\$|€|£|\b(?:USD|EUR|GBP)\b)\s?" + _NUMBER, re.IGNORECASE
)
_SUFFIXED_MONEY = re.compile(
    r"(?<![\w.,#-])" + _NUMBER + r"\s?(?P<currency>\$|€|£|(?:USD|EUR|GBP|dollars?|euros?|bucks)\b)",
    re.IGNORECASE,
)


def extract_entities(text: str) -> list[Entity]:
    """Entities in order of appearance, each (kind, value) once. Example:

    >>> [(e.kind, e.value) for e in extract_entities("refund $49.99 on invoice 1001")]
    [('amount', '49.99'), ('currency', 'USD'), ('invoice_id', 'INV-1001')]
    """
    found: list[tuple[int, str, str]] = []
    for match in _INVOICE.finditer(text):
        found.append((match.start(), "invoice_id", f"INV-{match['number']}"))
    for match in _ORDER.finditer(text):
        found.append((match.start(), "order_id", f"ORD-{match['number']}"))
    for pattern in (_PREFIXED_MONEY, _SUFFIXED_MONEY):
        for match in pattern.finditer(text):
            found.append((match.start(), "amount", _decimal(match["number"], match["fraction"])))
            found.append((match.start(), "currency", _CURRENCIES[match["currency"].lower()]))
    unique = dict.fromkeys((kind, value) for _, kind, value in sorted(found, key=lambda f: f[0]))
    return [Entity(kind=kind, value=value) for kind, value in unique]


def _decimal(number: str, fraction: str | None) -> str:
    cents = fraction[1:] if fraction else "0"
    amount = Decimal(f"{number.replace(',', '')}.{cents}")
    return str(amount.quantize(Decimal("0.01")))
