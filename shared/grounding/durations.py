"""Durations in free text: "5-7 business days", "5 to 7 business days", "within 30 days",
"a 30-day window", "two weeks", "one year", "24 hours", as `<count> <unit>` values.

Numbers written as words become digits; a range keeps both ends (`5-7`); units are
singular, and business (working, bank) days are a unit of their own, `business_day`, never
equal to calendar days. Words that only qualify the count ("2 extra business days",
"30 calendar days") are dropped.

>>> [m.value for m in find_durations("within five to seven business days, or 30-day returns")]
['5-7 business_day', '30 day']
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from shared.grounding.kinds import Mention
from shared.grounding.words import NUMBER, number_value

# A hyphen, an en dash, an em dash or a word.
_RANGE = r"\s?(?:-|\u2013|\u2014|to|or|and)\s?"
_QUALIFIERS = r"(?:(?:extra|additional|more|further|full|whole|calendar)\s)?"
_UNITS = (
    r"(?P<business>business|working|bank)[\s-]days?"
    r"|(?P<unit>minute|hour|day|week|month|year)s?"
)
_DURATION = re.compile(
    rf"(?<![\w.,/:-])(?P<low>{NUMBER})(?:{_RANGE}(?P<high>{NUMBER}))?[\s-]{_QUALIFIERS}"
    rf"(?:{_UNITS})\b",
    re.IGNORECASE,
)


def find_durations(text: str) -> Iterator[Mention]:
    """The durations written in `text`, in order of appearance."""
    for match in _DURATION.finditer(text):
        count = str(number_value(match["low"]))
        if match["high"]:
            count += f"-{number_value(match['high'])}"
        unit = "business_day" if match["business"] else match["unit"].lower()
        yield Mention("duration", match.group(), f"{count} {unit}", match.start(), match.end())
