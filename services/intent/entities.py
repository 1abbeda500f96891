"""Entity extraction by regular expressions: invoice and order ids, money amounts, the
service an alert names (`service=payments`, `service: payments`), and the
vault tokens the edge put in place of personal data (an `email` entity is a token such as
[EMAIL#3f9a2c1b5d7e], never the address: see shared.pii.tokens).

Pure and deterministic.
"""

from __future__ import annotations

import re

from shared.contracts import Entity
from shared.pii.tokens import TOKEN_PATTERN, Token
from shared.text import find_money

_ID_SUFFIX = r"(?:\s*(?:#|no\.?|num(?:ber)?\.?|id)\s*:?)?\s*[-#:]?\s*(?P<number>\d{3,})\b"
_INVOICE = re.compile(r"\binv(?:oice)?" + _ID_SUFFIX, re.IGNORECASE)
_ORDER = re.compile(r"\bord(?:er)?" + _ID_SUFFIX, re.IGNORECASE)
# Only the key-value form monitoring alerts use: "the payments service" names no entity,
# so prose cannot steer an IT tool to a service the alert did not name.
_SERVICE = re.compile(
    r"\bservice\s*[=:]\s*(?P<name>[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?)\b", re.IGNORECASE
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
    for match in _SERVICE.finditer(text):
        found.append((match.start(), "service", match["name"].lower()))
    for match in TOKEN_PATTERN.finditer(text):
        token = Token.parse(match.group())
        if token is not None:
            found.append((match.start(), token.kind.value, token.text))
    for money in find_money(text):
        found.append((money.start, "amount", str(money.amount)))
        found.append((money.start, "currency", money.currency))
    unique = dict.fromkeys((kind, value) for _, kind, value in sorted(found, key=lambda f: f[0]))
    return [Entity(kind=kind, value=value) for kind, value in unique]
