"""The facts an answer may state, read from one request's tool exchanges and chunks.

A successful tool result is flattened into fields (`orders.status` for the `status` of each
item of a list `orders`), and each value read by its shape and its field's name:

- an ISO date or date-time string gives a date (and a time); other strings are read as
  text by `find_mentions` ("duplicate charge within 30 days" gives the duration `30 day`);
- a number gives an amount, in the currency of a sibling `currency` field if any; in a
  field named like an id (`id`, `order_id`, `tracking_number`) an id; in a field named after
  a unit (`window_days`, `business_days`) a duration;
- a string of id shape, or any string in a field named like an id, gives an id;
- `status`, `state` and `*_status` fields give a status; so does a field named after a
  status word (`eligible: false` is "not eligible", `refunded: 30.0` is "refunded",
  `delivered_at: "2026-12-09"` is "delivered") unless false, zero, empty or null.

Where `stateable` names a tool, only those fields (and the fields under them) are facts:
bookkeeping such as `updated_at` is not a date to tell a customer. The arguments of every
call, failed ones included, give their ids: an answer may name the invoice the customer
asked about. A chunk gives every mention in its text except statuses, which describe this
customer's records and come from tools alone.

>>> from shared.contracts import ToolCall, ToolExchange
>>> exchange = ToolExchange(
...     call=ToolCall(tool="lookup_order", arguments_json='{"order_id": "ORD-5001"}'),
...     ok=True,
...     result_json='{"status": "shipped", "estimated_delivery": "2026-12-09"}',
... )
>>> [(f.kind, f.value, f.origin) for f in Evidence.from_request([exchange], []).facts]
[('id', 'ORD-5001', 'lookup_order(order_id)'), ('status', 'shipped', 'lookup_order.status'), \
('date', '2026-12-09', 'lookup_order.estimated_delivery')]
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from shared.contracts import Chunk, ToolExchange
from shared.grounding.identifiers import find_ids, is_id
from shared.grounding.kinds import KINDS, Kind
from shared.grounding.mentions import find_mentions
from shared.grounding.statuses import STATUSES, canonical_status, negated_status

_CENT = Decimal("0.01")
_STATUS_FIELDS = re.compile(r"(?:.*_)?(?:status|state)")
_ID_FIELDS = re.compile(r"id|.*_(?:id|number|no)|tracking")
_DURATION_FIELD = re.compile(
    r".*?(?P<business>business_)?(?P<unit>minute|hour|day|week|month|year)s"
)
_EVENT_FIELD = re.compile(r"(?P<status>[a-z]+)_(?:at|on|date)")
_CHUNK_KINDS: frozenset[Kind] = KINDS - {"status"}


@dataclass(frozen=True, slots=True)
class Fact:
    """One value an answer may state, of a `kind` and normalised as `Mention.value` is, with
    where it came from: `lookup_order.estimated_delivery`, `lookup_invoice(invoice_id)` (an
    argument) or a chunk's source id (`refund-policy#3`)."""

    kind: Kind
    value: str
    origin: str
    currency: str = ""


@dataclass(frozen=True, slots=True)
class Evidence:
    """The facts of one request. Build it with `Evidence.from_request`; `facts` keep their
    order: tool exchanges first, then chunks."""

    facts: tuple[Fact, ...] = ()

    @classmethod
    def from_request(
        cls,
        exchanges: Sequence[ToolExchange],
        chunks: Sequence[Chunk],
        *,
        stateable: Mapping[str, Collection[str]] | None = None,
    ) -> Evidence:
        """The facts of a request's tool exchanges and retrieved chunks (see the module)."""
        facts: list[Fact] = []
        for exchange in exchanges:
            facts.extend(_argument_ids(exchange))
            if exchange.ok:
                fields = (stateable or {}).get(exchange.call.tool)
                facts.extend(_result_facts(exchange, fields))
        for chunk in chunks:
            facts.extend(
                Fact(m.kind, m.value, chunk.source_id, m.currency)
                for m in find_mentions(chunk.text, kinds=_CHUNK_KINDS)
            )
        return cls(tuple(facts))

    def of_kind(self, kind: Kind) -> list[Fact]:
        """The facts of one kind, in order."""
        return [fact for fact in self.facts if fact.kind == kind]

    def origins(self, kind: Kind) -> tuple[str, ...]:
        """Where the facts of one kind came from, each once, in order."""
        return tuple(dict.fromkeys(fact.origin for fact in self.of_kind(kind)))


def _argument_ids(exchange: ToolExchange) -> Iterator[Fact]:
    tool = exchange.call.tool
    for path, value, _ in _leaves(_json(exchange.call.arguments_json), ""):
        origin = f"{tool}({path})"
        if isinstance(value, str):
            yield from (Fact("id", m.value, origin) for m in find_ids(value))
        elif _is_number(value) and _ID_FIELDS.fullmatch(_name(path)):
            yield Fact("id", str(value), origin)


def _result_facts(exchange: ToolExchange, fields: Collection[str] | None) -> Iterator[Fact]:
    tool = exchange.call.tool
    for path, value, currency in _leaves(_json(exchange.result_json), ""):
        if fields is None or any(path == f or path.startswith(f"{f}.") for f in fields):
            yield from _facts_of(f"{tool}.{path}" if path else tool, _name(path), value, currency)


def _facts_of(origin: str, name: str, value: Any, currency: str) -> Iterator[Fact]:
    if value is None or value == "":
        return
    event = _EVENT_FIELD.fullmatch(name)
    status_field = canonical_status(event["status"] if event else name)
    if status_field in STATUSES:
        # `refunded: 0.0` says nothing was refunded, and is still an amount to state.
        if value is False:
            yield Fact("status", negated_status(status_field), origin)
        elif value:
            yield Fact("status", status_field, origin)
    if isinstance(value, bool):
        return
    if _is_number(value):
        yield from _number_facts(origin, name, value, currency)
    elif isinstance(value, str):
        yield from _string_facts(origin, name, value)


def _number_facts(origin: str, name: str, value: float, currency: str) -> Iterator[Fact]:
    duration = _DURATION_FIELD.fullmatch(name)
    if _ID_FIELDS.fullmatch(name):
        yield Fact("id", str(value), origin)
    elif duration is not None and float(value).is_integer():
        unit = "business_day" if duration["business"] else duration["unit"]
        yield Fact("duration", f"{int(value)} {unit}", origin)
    else:
        amount = Decimal(str(value)).quantize(_CENT)
        yield Fact("amount", str(amount), origin, currency)


def _string_facts(origin: str, name: str, value: str) -> Iterator[Fact]:
    if _STATUS_FIELDS.fullmatch(name):
        yield Fact("status", canonical_status(value), origin)
    elif _ID_FIELDS.fullmatch(name) or is_id(value):
        yield Fact("id", value.strip().upper(), origin)
    else:
        yield from (Fact(m.kind, m.value, origin, m.currency) for m in find_mentions(value))


def _leaves(node: Any, path: str) -> Iterator[tuple[str, Any, str]]:
    """(dotted path, scalar, currency of the object it sits in) for each scalar in `node`."""
    if isinstance(node, dict):
        currency = node.get("currency")
        currency = currency.upper() if isinstance(currency, str) else ""
        for key, value in node.items():
            child = f"{path}.{key}" if path else str(key)
            if isinstance(value, dict | list):
                yield from _leaves(value, child)
            else:
                yield child, value, currency
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, dict | list):
                yield from _leaves(item, path)
            else:
                yield path, item, ""
    else:
        yield path, node, ""


def _json(text: str) -> Any:
    """The JSON in `text`; a text that is no JSON stands for itself."""
    try:
        return json.loads(text) if text else None
    except ValueError:
        return text


def _name(path: str) -> str:
    return path.rsplit(".", 1)[-1].lower()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
