"""Holding an answer's facts to the evidence: a finding for each one no evidence states.

Matching, kind by kind: a date without a year matches any evidence date of the same month
and day, a month (`2026-12`) any date in it, a weekday any date falling on it, a full date
or a day relative to today ("tomorrow") only itself; times, durations
(both ends of a range, units included: business days are not days), ids and statuses must
be equal; amounts equal as numbers, and in the same currency where both name one. A
negated status ("not delivered") is grounded by that very status ("not delivered") or,
where the evidence has statuses, by their all being other than the negated one and none
implying it ("not shipped" is false of a delivered order).

>>> evidence = Evidence((Fact("date", "2026-12-09", "lookup_order.estimated_delivery"),))
>>> ungrounded("It arrives on December 9.", evidence)
[]
>>> [f.describe() for f in ungrounded("It arrives on December 10.", evidence)]
['the answer states a date that is in no tool result or source \
(expected from lookup_order.estimated_delivery)']
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

from shared.grounding.dates import WEEKDAYS
from shared.grounding.evidence import Evidence, Fact
from shared.grounding.kinds import Kind, Mention
from shared.grounding.mentions import find_mentions
from shared.grounding.statuses import implied_statuses

FindingKind = Kind | Literal["action", "tense"]
_NOUNS: dict[FindingKind, str] = {
    "date": "a date",
    "time": "a time",
    "amount": "an amount",
    "duration": "a duration",
    "id": "an id",
    "status": "a status",
}
_NOT = "not "
_WEEKDAY = "weekday:"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True)
class Finding:
    """Something an answer says that this request does not back: a fact of `kind` no
    evidence states, or (kind "action") a claimed `action` no call completed. `written` and
    the span `start`:`end` locate it in the answer; `written` may be personal data, so it
    stays out of `repr` and `describe()`, which names only the kind of fact and
    `expected_from`, the origins of the evidence of that kind."""

    kind: FindingKind
    written: str = field(repr=False)
    start: int
    end: int
    expected_from: tuple[str, ...] = ()
    action: str = ""

    def describe(self) -> str:
        """A message for logs and regeneration prompts, without the value itself."""
        if self.kind == "tense":
            return (
                "the answer says something happened on a day still to come, or will happen"
                " on a day gone"
            )
        if self.kind == "action":
            return (
                f"the answer says the action {self.action!r} was done, but no {self.action!r}"
                " call completed in this request"
            )
        where = (
            f"expected from {', '.join(self.expected_from)}"
            if self.expected_from
            else "no tool result or source has one"
        )
        noun = _NOUNS[self.kind]
        return f"the answer states {noun} that is in no tool result or source ({where})"


def ungrounded(text: str, evidence: Evidence) -> list[Finding]:
    """One finding per fact stated in `text` that `evidence` does not ground, in order."""
    return [
        Finding(m.kind, m.written, m.start, m.end, evidence.origins(m.kind))
        for m in find_mentions(text)
        if not is_grounded(m, evidence)
    ]


def is_grounded(mention: Mention, evidence: Evidence) -> bool:
    """Whether some fact of `evidence` states `mention` (rules in the module docstring)."""
    facts = evidence.of_kind(mention.kind)
    if any(_matches(mention, fact) for fact in facts):
        return True
    if mention.kind == "status" and mention.value.startswith(_NOT):
        negated = mention.value.removeprefix(_NOT)
        return bool(facts) and all(
            fact.value != negated and negated not in implied_statuses(fact.value) for fact in facts
        )
    return False


def _matches(mention: Mention, fact: Fact) -> bool:
    if mention.kind == "date":
        return _same_date(mention.value, fact.value)
    if mention.kind == "amount":
        if mention.currency and fact.currency and mention.currency != fact.currency:
            return False
        return Decimal(mention.value) == Decimal(fact.value)
    return mention.value == fact.value


def _same_date(stated: str, known: str) -> bool:
    if stated.startswith(_WEEKDAY) and _ISO_DATE.fullmatch(known):
        return WEEKDAYS[date.fromisoformat(known).weekday()] == stated.removeprefix(_WEEKDAY)
    if stated.startswith("--"):  # no year: the month and day
        return known[-6:] == stated[-6:]
    if len(stated) == len("2026-12"):  # a month of a year
        return known.startswith(f"{stated}-")
    return known == stated
