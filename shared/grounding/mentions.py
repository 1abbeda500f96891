"""Every fact a text states: dates, times, amounts, durations, ids and statuses.

Where readings overlap, a date wins over a time, a time over an amount, an amount over a
duration and a duration over an id, so a date, amount or duration is never also an id.
Amounts are those `find_money` finds (with their currency) and bare numbers with two
decimals ("49.99", no currency), since models drop the currency.

>>> [(m.kind, m.value) for m in find_mentions("Refund of 49.99 for INV-1001 on Dec 9.")]
[('amount', '49.99'), ('id', 'INV-1001'), ('date', '--12-09')]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Iterator
from decimal import Decimal

from shared.grounding.dates import find_dates, find_times
from shared.grounding.durations import find_durations
from shared.grounding.identifiers import find_ids
from shared.grounding.kinds import KINDS, Kind, Mention
from shared.grounding.statuses import find_statuses
from shared.text import find_money

# Two decimals, not inside an id, a version, a dotted date or a percentage.
_BARE_AMOUNT = re.compile(
    r"(?<![\w.,$€£#-])(?P<whole>\d{1,3}(?:,\d{3})+|\d+)\.(?P<cents>\d{2})(?!\d|%|[.,]\d)"
)


def find_mentions(text: str, *, kinds: Collection[Kind] = KINDS) -> list[Mention]:
    """The facts `text` states, in order of appearance, of the given `kinds` only (statuses,
    the one kind that needs the parser, are read only when asked for)."""
    taken: list[Mention] = []
    for finder in _FINDERS_BY_PRECEDENCE:
        for mention in sorted(finder(text), key=lambda m: (m.start, m.start - m.end)):
            if not any(m.start < mention.end and mention.start < m.end for m in taken):
                taken.append(mention)
    if "status" in kinds:
        taken.extend(find_statuses(text))
    return sorted((m for m in taken if m.kind in kinds), key=lambda m: m.start)


def _money(text: str) -> Iterator[Mention]:
    for money in find_money(text):
        end = money.start + len(money.written)
        yield Mention("amount", money.written, str(money.amount), money.start, end, money.currency)


def _bare_amounts(text: str) -> Iterator[Mention]:
    for match in _BARE_AMOUNT.finditer(text):
        amount = Decimal(f"{match['whole'].replace(',', '')}.{match['cents']}")
        yield Mention("amount", match.group(), str(amount), match.start(), match.end())


_FINDERS_BY_PRECEDENCE: tuple[Callable[[str], Iterable[Mention]], ...] = (
    find_dates,
    find_times,
    _money,
    _bare_amounts,
    find_durations,
    find_ids,
)
