"""The facts a text states, by small regular expressions of this suite's own (not the
pipeline's): ids, tracking numbers, dates, weekdays, times, amounts, currencies,
durations, percentages, versions, carriers, severities and on-call teams.

Each fact is normalised so that wordings of the same fact compare equal: "December 9",
"Dec 9, 2026" and "2026-12-09" are one date (a date without a year matches any year);
"$49.99", "49.99 USD" and "USD 49.99" one amount; "1 year", "one-year" and "12 months"
one duration, "5-7 business days" and "5 to 7 business days" one range.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

__all__ = ["Fact", "extract_facts", "fact_in", "parse_fact", "plain"]

# Typographic quotes and dashes read as their ASCII forms.
_PLAIN = str.maketrans(
    {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"}
)


def plain(text: str) -> str:
    """`text` with typographic apostrophes, quotes and dashes as ASCII ones."""
    return text.translate(_PLAIN)


@dataclass(frozen=True)
class Fact:
    """`kind`: id, tracking, date, weekday, time, amount, currency, duration, percent,
    version, carrier, severity, team. `value` is normalised; `text` is as written."""

    kind: str
    value: str
    text: str = field(default="", compare=False)


_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?:,?\s+(?P<year>20\d\d))?"
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

_WORD_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fourteen": 14,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "sixty": 60,
    "ninety": 90,
}
_NUMBER = r"(?:\d+(?:\.\d+)?|" + "|".join(sorted(_WORD_NUMBERS, key=len, reverse=True)) + r")"
# Calendar durations in seconds, business days and months apart: they do not convert.
_UNITS: dict[str, tuple[str, Decimal]] = {
    "millisecond": ("second", Decimal("0.001")),
    "ms": ("second", Decimal("0.001")),
    "second": ("second", Decimal(1)),
    "sec": ("second", Decimal(1)),
    "s": ("second", Decimal(1)),
    "minute": ("second", Decimal(60)),
    "min": ("second", Decimal(60)),
    "hour": ("second", Decimal(3600)),
    "day": ("second", Decimal(86400)),
    "week": ("second", Decimal(7 * 86400)),
    "business day": ("business_day", Decimal(1)),
    "working day": ("business_day", Decimal(1)),
    "month": ("month", Decimal(1)),
    "year": ("month", Decimal(12)),
}
_UNIT = (
    r"(?P<unit>(?:business|working)\s+day|millisecond|second|minute|hour|day|week|month|year"
    r"|sec|min|ms|s)s?"
)
_DURATION = re.compile(
    r"\b(?:between\s+(?P<lo1>" + _NUMBER + r")\s+and\s+(?P<hi1>" + _NUMBER + r")"
    r"|(?P<lo2>" + _NUMBER + r")(?:\s*(?:-|to|or)\s*(?P<hi2>" + _NUMBER + r"))?)"
    r"\s*-?\s*" + _UNIT + r"(?![\w-])",
    re.IGNORECASE,
)
_CURRENCY_SIGNS = {"$": "USD", "us$": "USD", "€": "EUR", "£": "GBP"}
_CURRENCY_WORDS = {
    "usd": "USD",
    "dollar": "USD",
    "dollars": "USD",
    "eur": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "gbp": "GBP",
    "pound": "GBP",
    "pounds": "GBP",
}
_MONEY_NUMBER = r"(?P<number>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
_CARRIERS = ("UPS", "DHL", "USPS", "DPD", "GLS", "TNT")
_CARRIER_NAMES = ("FedEx", "PostNL", "Royal Mail", "Hermes", "Evri", "Canada Post", "La Poste")


@dataclass(frozen=True)
class _Pattern:
    kind: str
    regex: re.Pattern[str]


def _compile(pattern: str, *, case: bool = False) -> re.Pattern[str]:
    return re.compile(pattern, 0 if case else re.IGNORECASE)


# In priority order: a span taken by an earlier pattern is not read again by a later one
# (the digits of an id are not an amount, the date of a timestamp not a second date).
_PATTERNS: tuple[_Pattern, ...] = (
    _Pattern("payment_id", _compile(r"\bPAY-[A-Z0-9]{4,}\b")),
    _Pattern(
        "prefixed_id", _compile(r"\b(?P<prefix>INV|ORD|INC|CUS)\s?[-#]?\s?(?P<number>\d{3,})\b")
    ),
    _Pattern(
        "worded_id",
        _compile(
            r"\b(?P<word>invoice|order|ticket|incident)\s*(?:#|no\.?|num(?:ber)?\.?)?\s*"
            r"(?P<number>\d{3,})\b(?![.,]\d)"
        ),
    ),
    _Pattern(
        "tracking",
        _compile(r"\b(?=[A-Z0-9]*\d)(?=[A-Z0-9]*[A-Z])[A-Z0-9]{10,}\b|\b\d{12,}\b", case=True),
    ),
    _Pattern(
        "iso",
        _compile(
            r"\b(?P<year>20\d\d)-(?P<month>[01]\d)-(?P<day>[0-3]\d)"
            r"(?:[T\s](?P<hour>[0-2]\d):(?P<minute>[0-5]\d)(?::[0-5]\d(?:\.\d+)?)?"
            r"(?:Z|[+-]\d\d:?\d\d)?)?\b"
        ),
    ),
    _Pattern(
        "dotted_date",
        _compile(r"\b(?P<first>[0-3]?\d)\.(?P<second>[0-3]?\d)\.(?P<year>20\d\d)\b"),
    ),
    _Pattern("version", _compile(r"\bv?\d+\.\d+\.\d+\b")),
    _Pattern("month_day", _compile(r"\b" + _MONTH + r"\s+" + _DAY + r"\b" + _YEAR)),
    _Pattern("day_month", _compile(r"\b" + _DAY + r"\s+(?:of\s+)?" + _MONTH + r"\b" + _YEAR)),
    _Pattern(
        "slash_date",
        _compile(r"\b(?P<first>[01]?\d)/(?P<second>[0-3]?\d)/(?P<year>20\d\d)\b"),
    ),
    _Pattern("relative_day", _compile(r"\b(?P<word>tomorrow|yesterday)\b")),
    _Pattern("weekday", _compile(r"\b(?P<word>" + "|".join(_WEEKDAYS) + r")\b")),
    _Pattern(
        "clock",
        _compile(
            r"\b(?P<hour>[0-2]?\d)(?::(?P<minute>[0-5]\d)(?::[0-5]\d)?)?\s*"
            r"(?P<half>a\.?m\.?|p\.?m\.?)(?!\w)|\b(?P<hour24>[0-2]?\d):(?P<minute24>[0-5]\d)\b"
        ),
    ),
    _Pattern("percent", _compile(r"(?P<number>\d+(?:\.\d+)?)\s*(?:%|percent\b|per\s+cent\b)")),
    _Pattern("duration", _DURATION),
    _Pattern(
        "money_before",
        _compile(r"(?P<sign>US\$|\$|€|£|\bUSD|\bEUR|\bGBP)\s?" + _MONEY_NUMBER + r"\b"),
    ),
    _Pattern(
        "money_after",
        _compile(_MONEY_NUMBER + r"\s?(?P<word>USD|EUR|GBP|dollars?|euros?|pounds?)\b"),
    ),
    _Pattern("bare_money", _compile(r"(?<![\w.])(?P<number>\d+\.\d\d)(?![\w%]|\.\d)")),
    _Pattern("severity", _compile(r"\bsev(?:erity)?\s?-?\s?(?P<level>[0-4])\b")),
    _Pattern("team", _compile(r"\b(?P<team>[a-z]+-oncall)\b")),
    _Pattern("carrier", _compile(r"\b(?:" + "|".join(_CARRIERS) + r")\b", case=True)),
    _Pattern("carrier", _compile(r"\b(?:" + "|".join(_CARRIER_NAMES) + r")\b")),
)


def extract_facts(text: str, *, today: date | None = None) -> list[Fact]:
    """Facts in order of appearance. `today` resolves "tomorrow" and "yesterday"."""
    text = plain(text)
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, Fact]] = []
    for pattern in _PATTERNS:
        for match in pattern.regex.finditer(text):
            start, end = match.span()
            if any(start < t_end and t_start < end for t_start, t_end in taken):
                continue
            facts = list(_read(pattern.kind, match, today))
            if not facts:
                continue
            taken.append((start, end))
            found.extend((start, fact) for fact in facts)
    return [fact for _, fact in sorted(found, key=lambda item: item[0])]


def parse_fact(text: str) -> Fact:
    """The one fact `text` states (its currency aside), e.g. `parse_fact("1 year")`."""
    facts = [fact for fact in extract_facts(text) if fact.kind != "currency"]
    if len(facts) != 1:
        raise ValueError(f"{text!r} states {len(facts)} facts, not one: {facts}")
    return facts[0]


def fact_in(stated: Fact, truth: Iterable[Fact]) -> bool:
    """Whether `stated` agrees with one of `truth`: equal, or a date without a year (or a
    weekday) of a true date, or one number of a duration that is a true range's upper end
    ("within 7 business days" of "5 to 7 business days"), or an ambiguous d/m date."""
    truths = list(truth)
    same = [t for t in truths if t.kind == stated.kind]
    if stated.kind == "date":
        return any(_date_matches(stated.value, t.value) for t in same)
    if stated.kind == "weekday":
        return any(t.value == stated.value for t in same) or any(
            _weekday_of(t.value) == stated.value for t in truths if t.kind == "date"
        )
    if stated.kind == "duration":
        return any(_duration_matches(stated.value, t.value) for t in same)
    return any(t.value == stated.value for t in same)


def _weekday_of(value: str) -> str | None:
    if value.startswith(("-", "either:")):
        return None
    return _WEEKDAYS[date.fromisoformat(value).weekday()]


def _date_matches(stated: str, truth: str) -> bool:
    """`stated` and `truth`: "2026-12-09", "--12-09" (no year) or "either:<a>|<b>"."""
    if truth.startswith(("-", "either:")):
        return stated == truth
    options = stated.removeprefix("either:").split("|")
    return any(option in (truth, "--" + truth[5:]) for option in options)


def _duration_matches(stated: str, truth: str) -> bool:
    if stated == truth:
        return True
    s_lo, s_hi, s_unit = _split_duration(stated)
    t_lo, t_hi, t_unit = _split_duration(truth)
    return s_unit == t_unit and s_lo == s_hi == t_hi and t_lo != t_hi


def _split_duration(value: str) -> tuple[Decimal, Decimal, str]:
    numbers, unit = value.split(" ")
    lo, hi = numbers.split("-")
    return Decimal(lo), Decimal(hi), unit


def _read(kind: str, match: re.Match[str], today: date | None) -> Iterator[Fact]:
    text = match.group()
    readers = {
        "payment_id": _payment_id,
        "prefixed_id": _prefixed_id,
        "worded_id": _worded_id,
        "tracking": _tracking,
        "version": _version,
        "percent": _percent,
        "duration": _duration,
        "money_before": _money,
        "money_after": _money,
        "bare_money": _money,
        "severity": _severity,
        "team": _team,
        "carrier": _carrier,
        "weekday": _weekday,
        "clock": _clock,
    }
    if kind in readers:
        yield from readers[kind](match, text)
    elif kind == "iso":
        yield from _iso(match, text)
    elif kind in ("month_day", "day_month"):
        yield from _named_date(match, text)
    elif kind in ("slash_date", "dotted_date"):
        yield from _slash_date(match, text)
    elif kind == "relative_day" and today is not None:
        offset = 1 if match["word"].lower() == "tomorrow" else -1
        yield Fact("date", (today + timedelta(days=offset)).isoformat(), text)


def _payment_id(match: re.Match[str], text: str) -> Iterator[Fact]:
    yield Fact("id", text.upper(), text)


def _prefixed_id(match: re.Match[str], text: str) -> Iterator[Fact]:
    yield Fact("id", f"{match['prefix'].upper()}-{match['number']}", text)


_WORDED_PREFIX = {"invoice": "INV", "order": "ORD", "ticket": "INC", "incident": "INC"}


def _worded_id(match: re.Match[str], text: str) -> Iterator[Fact]:
    yield Fact("id", f"{_WORDED_PREFIX[match['word'].lower()]}-{match['number']}", text)


def _tracking(match: re.Match[str], text: str) -> Iterator[Fact]:
    yield Fact("tracking", text.upper(), text)


def _version(match: re.Match[str], text: str) -> Iterator[Fact]:
    yield Fact("version", text.lower().removeprefix("v"), text)


def _percent(match: re.Match[str], text: str) -> Iterator[Fact]:
    yield Fact("percent", _number(match["number"]), text)


def _duration(match: re.Match[str], text: str) -> Iterator[Fact]:
    lo_text = match["lo1"] or match["lo2"]
    hi_text = match["hi1"] or match["hi2"] or lo_text
    unit_text = re.sub(r"\s+", " ", match["unit"].lower())
    if unit_text in ("s", "ms", "sec", "min") and not lo_text[0].isdigit():
        return  # "a s" is no duration
    base, factor = _UNITS[unit_text]
    lo = _to_decimal(lo_text) * factor
    hi = _to_decimal(hi_text) * factor
    yield Fact("duration", f"{_number(str(lo))}-{_number(str(hi))} {base}", text)


def _money(match: re.Match[str], text: str) -> Iterator[Fact]:
    try:
        amount = Decimal(match["number"].replace(",", "")).quantize(Decimal("0.01"))
    except InvalidOperation:
        return
    yield Fact("amount", str(amount), text)
    groups = match.groupdict()
    sign = groups.get("sign")
    word = groups.get("word")
    if sign:
        yield Fact("currency", _CURRENCY_SIGNS.get(sign.lower(), sign.upper()), sign)
    elif word:
        yield Fact("currency", _CURRENCY_WORDS[word.lower()], word)


def _severity(match: re.Match[str], text: str) -> Iterator[Fact]:
    yield Fact("severity", f"sev{match['level']}", text)


def _team(match: re.Match[str], text: str) -> Iterator[Fact]:
    yield Fact("team", match["team"].lower(), text)


def _carrier(match: re.Match[str], text: str) -> Iterator[Fact]:
    yield Fact("carrier", text.lower(), text)


def _weekday(match: re.Match[str], text: str) -> Iterator[Fact]:
    yield Fact("weekday", match["word"].lower(), text)


def _clock(match: re.Match[str], text: str) -> Iterator[Fact]:
    if match["hour24"] is not None:
        hour, minute = int(match["hour24"]), int(match["minute24"])
    else:
        hour, minute = int(match["hour"]), int(match["minute"] or 0)
        afternoon = match["half"].lower().startswith("p")
        if hour > 12:
            return
        hour = hour % 12 + (12 if afternoon else 0)
    if hour < 24:
        yield Fact("time", f"{hour:02d}:{minute:02d}", text)


def _iso(match: re.Match[str], text: str) -> Iterator[Fact]:
    try:
        day = date(int(match["year"]), int(match["month"]), int(match["day"]))
    except ValueError:
        return
    yield Fact("date", day.isoformat(), text)
    if match["hour"] is not None:
        yield Fact("time", f"{match['hour']}:{match['minute']}", text)


def _named_date(match: re.Match[str], text: str) -> Iterator[Fact]:
    month = _MONTHS[match["month"].lower()]
    day = int(match["day"])
    if not 1 <= day <= 31:
        return
    if match["year"]:
        try:
            yield Fact("date", date(int(match["year"]), month, day).isoformat(), text)
        except ValueError:
            return
    else:
        yield Fact("date", f"--{month:02d}-{day:02d}", text)


def _slash_date(match: re.Match[str], text: str) -> Iterator[Fact]:
    year, first, second = int(match["year"]), int(match["first"]), int(match["second"])
    readings = []
    for month, day in ((first, second), (second, first)):
        try:
            readings.append(date(year, month, day).isoformat())
        except ValueError:
            continue
    if readings:
        yield Fact("date", "either:" + "|".join(dict.fromkeys(readings)), text)


def _to_decimal(text: str) -> Decimal:
    word = text.lower()
    return Decimal(_WORD_NUMBERS[word]) if word in _WORD_NUMBERS else Decimal(text)


def _number(text: str) -> str:
    value = Decimal(text).normalize()
    return f"{value:f}"
