"""Numbers written as words, for durations: "five", "twelve", "thirty", "twenty-one".

>>> number_value("twenty-one"), number_value("14")
(21, 14)
"""

from __future__ import annotations

import re

_UNITS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
}
_TEENS = {
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}


def _alternatives(words: dict[str, int]) -> str:
    return "|".join(sorted(words, key=len, reverse=True))


# A number as digits or words, to embed in a larger pattern (no groups of its own).
NUMBER = (
    rf"(?:\d+|(?:{_alternatives(_TENS)})(?:[\s-](?:{_alternatives(_UNITS)}))?"
    rf"|{_alternatives(_TEENS)}|{_alternatives(_UNITS)}|a\s+hundred|one\s+hundred)"
)
_SEPARATOR = re.compile(r"[\s-]+")


def number_value(written: str) -> int:
    """The value of a number matched by `NUMBER`, written as digits or as words."""
    if written.isdigit():
        return int(written)
    total = 0
    for word in _SEPARATOR.split(written.lower()):
        if word == "hundred":
            total = max(total, 1) * 100
        elif word != "a":
            total += _UNITS.get(word) or _TEENS.get(word) or _TENS[word]
    return total
