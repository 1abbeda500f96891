"""The `refund_within_policy` output check: no refund, paid or promised, above what policy allows.

Reads the request's tool exchanges: a successful `check_refund_policy` result carries
`refundable_amount` for its `invoice_id`; a successful `issue_refund` carries `amount`
(in its arguments or its result). The latest policy result per invoice sets the limit.
An amount in a sentence that refuses the refund ("I cannot refund the 200.0 USD") promises
nothing; whether it is a true fact is the `grounded` check's business.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from shared.contracts import StepEvent, ToolExchange
from shared.grounding import (
    ActionVocabulary,
    claimed_actions,
    mentioned_actions,
    refused_actions,
)
from shared.text import MoneyMention, find_money

POLICY_TOOL = "check_refund_policy"
REFUND_TOOL = "issue_refund"


@dataclass(frozen=True, slots=True)
class _Refund:
    invoice_id: str
    amount: Decimal | None


def _json_object(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw, parse_float=Decimal) if raw else {}
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


def _successful_calls(
    exchanges: Sequence[ToolExchange], tool: str
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(arguments, result) of each successful call of `tool`, in call order."""
    for exchange in exchanges:
        if exchange.ok and exchange.call.tool == tool:
            yield _json_object(exchange.call.arguments_json), _json_object(exchange.result_json)


def _refunds(exchanges: Sequence[ToolExchange]) -> Iterator[_Refund]:
    for arguments, result in _successful_calls(exchanges, REFUND_TOOL):
        invoice_id = str(result.get("invoice_id") or arguments.get("invoice_id") or "")
        amounts = [_decimal(side["amount"]) for side in (arguments, result) if "amount" in side]
        for amount in amounts or [None]:
            yield _Refund(invoice_id, amount)


def policy_limits(exchanges: Sequence[ToolExchange]) -> dict[str, Decimal]:
    """The refundable amount per invoice, from its latest successful policy check."""
    limits = {}
    for arguments, result in _successful_calls(exchanges, POLICY_TOOL):
        policy = arguments | result
        eligible = policy.get("eligible", True) is not False
        refundable = _decimal(policy.get("refundable_amount")) if eligible else None
        limits[str(policy.get("invoice_id", ""))] = refundable or Decimal(0)
    return limits


def _names(text: str, invoice_id: str) -> bool:
    return bool(invoice_id) and re.search(rf"\b{re.escape(invoice_id)}\b", text) is not None


def _refund_violations(
    exchanges: Sequence[ToolExchange], limits: dict[str, Decimal]
) -> Iterator[str]:
    for refund in _refunds(exchanges):
        invoice = refund.invoice_id or "an unnamed invoice"
        limit = limits.get(refund.invoice_id)
        paid = "a refund" if refund.amount is None else f"a refund of {refund.amount}"
        if limit is None:
            yield f"{paid} was issued for {invoice} without a passing refund-policy check"
        elif refund.amount is not None and refund.amount > limit:
            yield f"{paid} was issued for {invoice}, above the refundable {limit}"


def _answer_violations(
    text: str, limits: dict[str, Decimal], refund: ActionVocabulary
) -> Iterator[str]:
    mentions = find_money(text)
    if mentions:
        mentions = _promised(text, mentions, refund)
    if not mentions:
        return
    if not limits:
        written = ", ".join(mention.written for mention in mentions)
        yield f"the answer mentions {written} without a passing refund-policy check"
        return
    # An amount cannot be tied to an invoice reliably: the invoices the answer names set the
    # ceiling, or every checked invoice when it names none.
    named = [limit for invoice_id, limit in limits.items() if _names(text, invoice_id)]
    ceiling = max(named or limits.values())
    for mention in mentions:
        if mention.amount > ceiling:
            yield f"the answer mentions {mention.written}, above the refundable {ceiling}"


def _promised(
    text: str, mentions: list[MoneyMention], refund: ActionVocabulary
) -> list[MoneyMention]:
    """The mentions outside sentences that refuse the refund and claim none."""
    actions = {"refund": refund}
    claims = claimed_actions(text, actions)
    refusals = [r for r in refused_actions(text, actions) if r not in claims]
    return [
        mention
        for mention in mentions
        if not any(r.sentence_start <= mention.start < r.sentence_end for r in refusals)
    ]


class RefundWithinPolicy:
    """The check, with the words answers use for a refund (the refund tool's `claims` in
    the tool catalog). Example: `RefundWithinPolicy(ActionVocabulary(frozenset({"refund"})))`."""

    def __init__(self, refund: ActionVocabulary) -> None:
        self._refund = refund

    def __call__(self, event: StepEvent) -> str | None:
        """A finding when a refund issued or an amount promised exceeds the policy's limit."""
        limits = policy_limits(event.tool_exchanges)
        violations = [
            *_refund_violations(event.tool_exchanges, limits),
            *_answer_violations(event.model_output.text, limits, self._refund),
            *self._unrefused_mentions(event, limits),
        ]
        return "; ".join(violations) or None

    def _unrefused_mentions(self, event: StepEvent, limits: dict[str, Decimal]) -> Iterator[str]:
        """Where the policy refused every invoice checked and nothing was refunded, each
        sentence that speaks of a refund without refusing it: to a customer who asked for
        one, "we can refund refundable items" or "refunds take 5 to 7 days" reads as yes."""
        if not limits or any(limits.values()) or any(_refunds(event.tool_exchanges)):
            return
        text = event.model_output.text
        actions = {"refund": self._refund}
        refusals = refused_actions(text, actions)
        unrefused = [s for s in mentioned_actions(text, actions) if s not in refusals]
        if unrefused:
            yield (
                f"{len(unrefused)} sentence(s) speak of a refund without refusing it, though "
                "the policy refused the refund asked for: say only that it cannot be made, "
                "and why"
            )
