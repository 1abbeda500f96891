"""Dates in the wrong tense: an answer that says a thing happened on a day still to come
("your order was shipped on December 9" when December 9 is the estimated delivery), or
that it will happen on a day gone. Each date may be a true value of the request and the
sentence still false; the clause's tense, read from the grammar, tells.

>>> today = date(2026, 12, 7)
>>> [f.describe() for f in misdated("Your order was shipped on December 9.", today)]
['the answer says something happened on a day still to come, or will happen on a day gone']
>>> misdated("Your order should arrive on December 9.", today)
[]
"""

from __future__ import annotations

from datetime import date, timedelta

from shared.grounding.dates import find_dates
from shared.grounding.grammar import FUTURE_MODALS, clause_head, parsed, read_clause
from shared.grounding.matching import Finding

# The days that a day named without a year may fall on: this year's, last year's or next.
_YEARS_AROUND = (-1, 0, 1)
_RELATIVE_DAYS = {"today": 0, "tonight": 0, "tomorrow": 1, "yesterday": -1}


def misdated(text: str, today: date) -> list[Finding]:
    """A finding for each date `text` puts in a tense its day contradicts, seen from
    `today`. Negated, conditional and questioning clauses state nothing, and pass."""
    dated = [(m, day) for m in find_dates(text) if (day := _day(m.value, today)) is not None]
    if not dated:
        return []
    findings = []
    with parsed(text) as doc:
        for mention, day in dated:
            span = doc.char_span(mention.start, mention.end, alignment_mode="expand")
            if span is None:
                continue
            clause = read_clause(clause_head(span.root))
            if clause.negated or clause.conditional or clause.question:
                continue
            happened = clause.past and not clause.modal
            coming = clause.modal in FUTURE_MODALS
            if (happened and day > today) or (coming and day < today):
                findings.append(Finding("tense", mention.written, mention.start, mention.end))
    return findings


def _day(value: str, today: date) -> date | None:
    """The calendar day a date mention's value names, None for a month or a weekday."""
    if value.startswith("relative:"):
        offset = _RELATIVE_DAYS.get(value.removeprefix("relative:"))
        return None if offset is None else today + timedelta(days=offset)
    if value.startswith("--"):
        month, day = int(value[2:4]), int(value[5:7])
        candidates = []
        for shift in _YEARS_AROUND:
            try:
                candidates.append(date(today.year + shift, month, day))
            except ValueError:
                continue
        return min(candidates, key=lambda c: abs(c - today), default=None)
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


__all__ = ["misdated"]
