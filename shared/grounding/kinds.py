"""The vocabulary of grounding: the kinds of fact an answer states, and one stated fact.

>>> Mention(kind="date", written="December 9", value="--12-09", start=22, end=32)
Mention(kind='date', written='December 9', value='--12-09', start=22, end=32, currency='')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Kind = Literal["date", "time", "amount", "duration", "id", "status"]
KINDS: frozenset[Kind] = frozenset(get_args(Kind))


@dataclass(frozen=True, slots=True)
class Mention:
    """A fact stated in a text: its `kind`, the words as `written` at `text[start:end]`, and
    its normalised `value`, the form evidence is compared in:

    - date: ISO `2026-12-09`; `--12-09` when no year is written; `2026-12` for a month;
    - time: `13:51` (24-hour clock, no seconds);
    - amount: the Decimal as a string, `49.99`, with `currency` (`USD`) or `""` if none;
    - duration: `5-7 business_day`, `30 day`, `2 week` (units singular);
    - id: upper case, `INV-1001`, `1Z999AA10123456784`;
    - status: its canonical word, `cancelled`, `not eligible`, `not delivered`.
    """

    kind: Kind
    written: str
    value: str
    start: int
    end: int
    currency: str = ""
