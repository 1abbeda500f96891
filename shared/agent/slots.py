"""Answer slots: the facts a model may state, only by reference to values this request saw.

The prompt-builder gives each stateable field of the request's successful tool results a
slot (`estimated_delivery`, and qualified `lookup_order.estimated_delivery`); the answer's
schema lets the text name slots as `{estimated_delivery}` and holds no digit of its own,
so the model cannot write a date, an amount or an id it invented. Inference renders the
slots into the text the customer reads:

>>> render_slots("Arrives on {estimated_delivery}.", {"estimated_delivery": "December 9, 2026"})
'Arrives on December 9, 2026.'
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from shared.contracts import ToolExchange
from shared.text.patterns import literal_pattern

JsonScalar = str | int | float | bool | None
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_.]*)\}")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# A slotted text's own characters: no digit, brace, quote, backslash or control character.
_PLAIN = r'[^0-9{}"\\\x00-\x1f]'
_SLOT_ALTERNATIVES = re.compile(r"\\\{\((?P<names>[^()]*)\)\\\}")


def result_fields(exchanges: Sequence[ToolExchange]) -> Iterator[tuple[str, str, JsonScalar]]:
    """(tool, dotted field path, value) of every scalar in the successful results, in call
    order; list items are numbered (`orders.0.status`)."""
    for exchange in exchanges:
        if not exchange.ok or not exchange.result_json:
            continue
        try:
            result = json.loads(exchange.result_json)
        except json.JSONDecodeError:
            continue
        for path, value in _flatten(result, ""):
            yield exchange.call.tool, path, value


def _flatten(value: Any, prefix: str) -> Iterator[tuple[str, JsonScalar]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _flatten(item, f"{prefix}.{index}" if prefix else str(index))
    elif prefix:
        yield prefix, value


def _stateable(path: str, facts: Collection[str] | None) -> bool:
    """Whether `path` is a declared fact; list indices match the declaration's path."""
    if facts is None:
        return True
    generic = ".".join(part for part in path.split(".") if not part.isdigit())
    return generic in facts


def slot_text(value: JsonScalar) -> str | None:
    """How a value reads in an answer, or None for values that are not stated (booleans,
    nulls, empty strings): `2026-12-09` reads `December 9, 2026`, `20.0` reads `20.00`."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        return f"{Decimal(str(value)):.2f}"
    text = str(value).strip()
    if _ISO_DATE.match(text):
        day = date.fromisoformat(text)
        return f"{day:%B} {day.day}, {day.year}"
    return text or None


def answer_slots(
    exchanges: Sequence[ToolExchange], facts: Mapping[str, Collection[str] | None]
) -> dict[str, str]:
    """The slots of a request: `tool.field` for every stateable field, and the bare `field`
    for the latest call that has it. `facts[tool]` lists a tool's stateable fields (None:
    all of them; a tool missing from `facts` states nothing)."""
    slots: dict[str, str] = {}
    for tool, path, value in result_fields(exchanges):
        if tool not in facts or not _stateable(path, facts[tool]):
            continue
        text = slot_text(value)
        if text is not None:
            slots[f"{tool}.{path}"] = text
            slots[path] = text
    return slots


def placeholders(text: str) -> list[str]:
    """The slot names `text` refers to, in order."""
    return _PLACEHOLDER.findall(text)


def render_slots(text: str, slots: Mapping[str, str]) -> str:
    """`text` with every known `{slot}` replaced by its value; unknown ones stay as written
    (the output guardrail refuses an answer that still holds one)."""
    return _PLACEHOLDER.sub(lambda match: slots.get(match[1], match[0]), text)


def slotted_text_pattern(slots: Collection[str]) -> str:
    """The JSON-schema pattern of an answer text that states facts only through `slots`:
    any character but a digit, a brace, a quote, a backslash or a control character, or a
    whole `{slot}`."""
    names = "|".join(literal_pattern(name) for name in sorted(slots, key=lambda s: (-len(s), s)))
    return f"^({_PLAIN}|\\{{({names})\\}})*$" if names else f"^{_PLAIN}*$"


def slots_of_pattern(pattern: object) -> list[str] | None:
    """The slot names a `slotted_text_pattern` allows; None when `pattern` is not one."""
    if not isinstance(pattern, str) or (
        not pattern.startswith(f"^({_PLAIN}") and pattern != (f"^{_PLAIN}*$")
    ):
        return None
    found = _SLOT_ALTERNATIVES.search(pattern)
    names = found["names"].split("|") if found else []
    return [re.sub(r"\[\\?(.)\]", r"\1", name) for name in names]


class SlotRenderer:
    """Renders slots in text that arrives in pieces (a streamed answer): a `{slot}` split
    across pieces is held back until it closes (and dropped if it never does: the answer
    was cut, and the output guardrail refuses it).

    >>> renderer = SlotRenderer({"status": "shipped"})
    >>> [renderer.feed(piece) for piece in ["It has {st", "atus}."]]
    ['It has ', 'shipped.']
    """

    def __init__(self, slots: Mapping[str, str]) -> None:
        self._slots = slots
        self._held = ""

    def feed(self, piece: str) -> str:
        text = self._held + piece
        opened = text.rfind("{")
        if opened != -1 and "}" not in text[opened:]:
            self._held, text = text[opened:], text[:opened]
        else:
            self._held = ""
        return render_slots(text, self._slots)
