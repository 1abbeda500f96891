"""Dates and times in free text, as ISO values.

Dates: ISO (`2026-12-09`, the date part of `2026-12-09 13:51:56`), month names
(`December 9`, `Dec. 9th, 2026`, `9 December 2026`, `the 9th of December`), US numbers
(`12/09/2026`, read day first only where the first number cannot be a month), dotted
European numbers (`09.12.2026`), and a month with a year (`December 2026`, value
`2026-12`). Days relative to today ("tomorrow") and weekdays ("Monday") are dates of their
own kind (see `find_dates`). Times: `13:51`, `1:51 pm`, `3 pm`.

>>> [(m.kind, m.value) for m in find_dates("arrives Dec 9 by 1:51 pm")]
[('date', '--12-09')]
>>> [(m.kind, m.value) for m in find_times("arrives Dec 9 by 1:51 pm")]
[('time', '13:51')]
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

from shared.grounding.kinds import Mention

_MONTHS = {
    "january": 1,
    "february": 2,
    "march": 3,
    "april": 4,
    "may": 5,
    "june": 6,
    "july": 7,
    "august": 8,
    "september": 9,
    "october": 10,
    "november": 11,
    "december": 12,
}
_ABBREVIATIONS = {"sept": 9, **{name[:3]: number for name, number in _MONTHS.items()}}
_MONTH_OF = {**_MONTHS, **_ABBREVIATIONS}
# Capitalised or in capitals: lower-case "may" and "march" are verbs.
_MONTH = (
    r"(?P<month>"
    + "|".join(
        form
        for name in sorted(_MONTH_OF, key=len, reverse=True)
        for form in (name.title(), name.upper())
    )
    + r")\.?"
)
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>\d{4})"
_NOT_IN_A_NUMBER = r"(?<![\w.,/-])"
_END = r"(?![\w/-]|[.,]\d)"

_PATTERNS = (
    re.compile(
        _NOT_IN_A_NUMBER + r"(?P<year>\d{4})(?P<sep>[-/])(?P<month>\d{2})(?P=sep)(?P<day>\d{2})"
        r"(?:(?=T\d)|(?![\w/-]))"
    ),
    re.compile(rf"\b{_MONTH}\s+{_DAY}\b(?:,?\s+{_YEAR}\b)?"),
    re.compile(rf"\b(?:the\s+)?{_DAY}\s+(?:of\s+)?{_MONTH}\b(?:,?\s+{_YEAR}\b)?"),
    re.compile(_NOT_IN_A_NUMBER + r"(?P<first>\d{1,2})/(?P<second>\d{1,2})/(?P<year>\d{4})" + _END),
    re.compile(_NOT_IN_A_NUMBER + r"(?P<day>\d{1,2})\.(?P<month>\d{1,2})\.(?P<year>\d{4})" + _END),
    re.compile(rf"\b{_MONTH}\s+{_YEAR}\b"),
)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# A weekday that names the date written right after it ("Wednesday, December 9") is that date.
_WEEKDAY = re.compile(
    r"\b(?P<weekday>" + "|".join(d.title() for d in WEEKDAYS) + r")s?\b"
    r"(?!,?\s+(?:the\s+)?(?:\d|(?:" + "|".join(n[:3].title() for n in _MONTHS) + r")))"
)
_RELATIVE = re.compile(
    r"\b(?:the\s+day\s+after\s+tomorrow|today|tonight|tomorrow|yesterday"
    r"|(?:next|last|this)\s+(?:week|weekend|month|year)"
    r"|(?:in|within)\s+(?:the\s+)?(?:next|coming)\s+(?:day|few\s+days|couple\s+of\s+days|week))\b",
    re.IGNORECASE,
)
# A leap year, so that February 29 without a year is a valid date.
_ANY_YEAR = 2000
_HOURS_ON_A_DIAL = 12

_CLOCK = re.compile(
    r"(?<![\d:.])(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::\d{2}(?:\.\d+)?)?"
    r"(?:\s?(?P<half>[ap])\.?m\b\.?)?(?![\d:])",
    re.IGNORECASE,
)
_HOUR_ONLY = re.compile(r"(?<![\w:.])(?P<hour>\d{1,2})\s?(?P<half>[ap])\.?m\b\.?", re.IGNORECASE)


def find_dates(text: str) -> Iterator[Mention]:
    """The dates written in `text`, each once, in no particular order (overlaps resolved by
    `find_mentions`). A match that is no calendar date ("February 30") is skipped. A day
    named relative to today ("tomorrow", "next week") is `relative:<words>`, and a weekday
    `weekday:<name>`: neither is a calendar date, and only evidence saying the same, or (a
    weekday) a date falling on it, grounds one."""
    for pattern in _PATTERNS:
        for match in pattern.finditer(text):
            value = _iso(match)
            if value is not None:
                yield Mention("date", match.group(), value, match.start(), match.end())
    for match in _RELATIVE.finditer(text):
        words = " ".join(match.group().lower().split())
        yield Mention("date", match.group(), f"relative:{words}", match.start(), match.end())
    for match in _WEEKDAY.finditer(text):
        value = f"weekday:{match['weekday'].lower()}"
        yield Mention("date", match.group(), value, match.start(), match.end())


def find_times(text: str) -> Iterator[Mention]:
    """The times of day written in `text`: `13:51`, `1:51 pm`, `3pm`; seconds are dropped."""
    for pattern in (_CLOCK, _HOUR_ONLY):
        for match in pattern.finditer(text):
            value = _clock(match)
            if value is not None:
                yield Mention("time", match.group(), value, match.start(), match.end())


def _iso(match: re.Match[str]) -> str | None:
    groups = match.groupdict()
    year = int(groups["year"]) if groups.get("year") else None
    if "first" in groups:
        first, second = int(groups["first"]), int(groups["second"])
        month, day = (first, second) if first <= _HOURS_ON_A_DIAL else (second, first)
    else:
        written_month = groups["month"]
        month = _MONTH_OF[written_month.lower()] if written_month.isalpha() else int(written_month)
        if groups.get("day") is None:
            return f"{year:04d}-{month:02d}" if year is not None and 1 <= month <= 12 else None
        day = int(groups["day"])
    try:
        date(year or _ANY_YEAR, month, day)
    except ValueError:
        return None
    return f"{year:04d}-{month:02d}-{day:02d}" if year is not None else f"--{month:02d}-{day:02d}"


def _clock(match: re.Match[str]) -> str | None:
    hour = int(match["hour"])
    minute = int(match.groupdict().get("minute") or 0)
    half = (match["half"] or "").lower()
    if half:
        if not 1 <= hour <= _HOURS_ON_A_DIAL:
            return None
        hour = hour % _HOURS_ON_A_DIAL + (_HOURS_ON_A_DIAL if half == "p" else 0)
    if hour > 23 or minute > 59:
        return None
    return f"{hour:02d}:{minute:02d}"
