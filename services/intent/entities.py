"""Entity extraction by regular expressions: invoice and order ids, money amounts.

Pure and deterministic; emails never reach it (the input guardrail redacts them).
"""

from __future__ import annotations

import re

from shared.contracts import Entity
from shared.text import find_money

_ID_SUFFIX = r"(?:\s*(?:#|no\.?|num(?:ber)?\.?|id)\s*:?)?\s*[-#:]?\s*(?P<number>\d{3,})\b"
_INVOICE = re.compile(r"\binv(?:oice)?" + _ID_SUFFIX, re.IGNORECASE)
_ORDER = re.compile(r"\bord(?:er)?" + _ID_SUFFIX, re.IGNORECASE)


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
    for money in find_money(text):
        found.append((money.start, "amount", str(money.amount)))
        found.append((money.start, "currency", money.currency))
    unique = dict.fromkeys((kind, value) for _, kind, value in sorted(found, key=lambda f: f[0]))
    return [Entity(kind=kind, value=value) for kind, value in unique]
