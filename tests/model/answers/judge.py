"""The strict judge of one conversation: every stated fact right, no false action claim, a
complete answer that addresses what was asked, the right side effects exactly once.

Independent of the pipeline's own checks (it imports neither `shared.grounding` nor the
guardrail): it reads the answer with this suite's regexes (`facts`, `claims`) and compares
with the company's data (`truth`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from tests.model.answers.claims import (
    action_mentions,
    charge_count_claims,
    refusal_reasons,
    status_claims,
)
from tests.model.answers.dataset import Conversation
from tests.model.answers.facts import Fact, extract_facts, fact_in, parse_fact, plain
from tests.model.answers.truth import EXPECTED_TEAMS, KNOWLEDGE_NAMES, Truth, knowledge_facts

__all__ = [
    "ANSWERED",
    "OUTCOMES",
    "Judgement",
    "Problem",
    "judge",
    "judge_answer",
    "judge_side_effects",
]

# Who wrote what the customer read. "model": the model's answer as first generated;
# "regenerated": the model's answer after the grounding check sent it back; "template":
# the workflow's deterministic answer; "person": handed to a person (Response.handoff).
ANSWERED = ("model", "regenerated", "template")
OUTCOMES = (*ANSWERED, "person", "error")

_COMPLETE_END = re.compile(r"[.!?][\"')\]]*$")
_REPEAT_MIN_CHARS = 20
# Statuses a refund never legitimately has a reason for once it was paid: stating them of a
# refundable invoice is a wrong fact ("already refunded" is true after the refund).
_NOT_FOR_REFUNDABLE = ("window", "void", "no_duplicate", "limit")


@dataclass(frozen=True)
class Problem:
    """`kind`: fact (a stated fact is wrong), claim (an action said done that was not, or
    said not done that was), incomplete, missing (the key fact asked for is absent),
    side_effect, outcome."""

    kind: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.detail}"


@dataclass(frozen=True)
class Judgement:
    """`outcome`: one of OUTCOMES (or "pending"); `reply`: the text the customer read (the
    answer, or the handoff's message); `reason`: a handoff's or error's reason."""

    conversation: Conversation
    outcome: str
    workflow_taken: str
    reply: str
    problems: tuple[Problem, ...]
    seconds: float = 0.0
    reason: str = ""
    tools: tuple[str, ...] = ()

    @property
    def answered(self) -> bool:
        return self.outcome in ANSWERED

    @property
    def verdict(self) -> str:
        """correct (answered, no problem), wrong (any problem: a wrong answer delivered, or a
        wrong side effect whatever the outcome), person (handed over cleanly), unanswered
        (an error or no final outcome)."""
        if self.problems:
            return "wrong"
        if self.answered:
            return "correct"
        return "person" if self.outcome == "person" else "unanswered"

    def describe(self) -> str:
        c = self.conversation
        lines = [
            f"conversation {c.id} (meant for {c.workflow}, took {self.workflow_taken or '-'})",
            f"  customer: {c.text}",
            f"  outcome:  {self.outcome}" + (f" ({self.reason})" if self.reason else ""),
            f"  reply:    {self.reply!r}",
            f"  tools:    {', '.join(self.tools) or '-'}",
            f"  verdict:  {self.verdict}",
        ]
        lines.extend(f"  - {problem}" for problem in self.problems)
        return "\n".join(lines)


def judge(
    conversation: Conversation,
    *,
    outcome: str,
    reply: str,
    truth: Truth,
    workflow_taken: str = "",
    seconds: float = 0.0,
    reason: str = "",
    tools: tuple[str, ...] = (),
) -> Judgement:
    answered = outcome in ANSWERED
    problems = judge_side_effects(conversation, truth, answered=answered)
    if answered:
        problems = judge_answer(conversation, reply, truth) + problems
    return Judgement(
        conversation=conversation,
        outcome=outcome,
        workflow_taken=workflow_taken,
        reply=reply,
        problems=tuple(problems),
        seconds=seconds,
        reason=reason,
        tools=tools,
    )


def judge_answer(conversation: Conversation, text: str, truth: Truth) -> list[Problem]:
    """Everything wrong with `text` as the answer to `conversation`."""
    stated = extract_facts(text, today=truth.today)
    problems = [
        *_completeness(text),
        *_wrong_facts(stated, truth),
        *_false_claims(conversation, text, truth),
        *_order_claims(text, truth),
        *_invoice_claims(text, truth),
        *_missing(conversation, text, stated, truth),
    ]
    return list(dict.fromkeys(problems))  # a sentence said twice is one problem


def judge_side_effects(
    conversation: Conversation, truth: Truth, *, answered: bool
) -> list[Problem]:
    """Refund payments and incident tickets exactly as expected when answered; when handed
    over or failed, none that should not be (one still missing is the person's to do)."""
    problems = []
    expected: list[tuple[str, Decimal]] = []
    invoice = truth.invoice
    if conversation.asks == "refund" and invoice is not None and invoice.refundable is not None:
        expected = [(invoice.invoice_id, invoice.refundable)]
    paid = [(p.invoice_id, p.amount) for p in truth.payments]
    if paid != expected and (answered or len(paid) > 1 or any(p not in expected for p in paid)):
        problems.append(
            Problem(
                "side_effect",
                f"refunds paid {_pairs(paid)}; expected {_pairs(expected)} exactly once",
            )
        )
    if conversation.asks == "incident":
        problems.extend(_ticket_problems(conversation, truth, answered=answered))
    return problems


def _ticket_problems(conversation: Conversation, truth: Truth, *, answered: bool) -> list[Problem]:
    tickets = truth.tickets
    if not tickets:
        return [Problem("side_effect", "no incident ticket was opened")] if answered else []
    if len(tickets) > 1:
        opened = ", ".join(t.ticket_id for t in tickets)
        return [Problem("side_effect", f"{len(tickets)} tickets were opened ({opened}), not one")]
    ticket = tickets[0]
    problems = []
    if ticket.service != conversation.service:
        problems.append(
            Problem(
                "side_effect",
                f"ticket {ticket.ticket_id} is for {ticket.service}, "
                f"the alert named {conversation.service}",
            )
        )
    team = EXPECTED_TEAMS.get(conversation.service or "")
    if team and ticket.team != team:
        problems.append(
            Problem(
                "side_effect",
                f"ticket {ticket.ticket_id} went to {ticket.team}; {conversation.service}'s "
                f"alert belongs to {team}",
            )
        )
    return problems


def _completeness(text: str) -> list[Problem]:
    stripped = plain(text).strip()
    if not stripped:
        return [Problem("incomplete", "the answer is empty")]
    problems = []
    if stripped.endswith(("...", "…")) or not _COMPLETE_END.search(stripped):
        problems.append(Problem("incomplete", f"ends mid-sentence: ...{stripped[-40:]!r}"))
    seen: set[str] = set()
    for sentence in re.split(r"(?<=[.!?])\s+", stripped):
        key = re.sub(r"\W+", " ", sentence.lower()).strip()
        if len(key) >= _REPEAT_MIN_CHARS and key in seen:
            problems.append(Problem("incomplete", f"repeats itself: {sentence!r}"))
            break
        seen.add(key)
    return problems


def _wrong_facts(stated: list[Fact], truth: Truth) -> list[Problem]:
    problems = []
    reported: set[Fact] = set()
    # A currency is wrong where the truth has amounts in another; without any, its amount is.
    currencies = any(fact.kind == "currency" for fact in truth.facts)
    for fact in stated:
        if fact in reported or fact_in(fact, truth.facts):
            continue
        if fact.kind == "currency" and not currencies:
            continue
        reported.add(fact)
        elsewhere = [name for name in KNOWLEDGE_NAMES if fact_in(fact, knowledge_facts((name,)))]
        where = (
            f"; it is in config/knowledge/{elsewhere[0]}.md, which is not about what was asked"
            if elsewhere
            else ""
        )
        problems.append(
            Problem(
                "fact",
                f"states the {fact.kind} {fact.text!r}, which is not in the company's data "
                f"for this conversation{where}",
            )
        )
    return problems


def _false_claims(conversation: Conversation, text: str, truth: Truth) -> list[Problem]:
    strict = set()
    if conversation.invoice:
        strict.add("refund")
    if conversation.asks == "incident":
        strict.add("ticket")
    done = {"refund": bool(truth.payments), "ticket": bool(truth.tickets)}
    problems = []
    for mention in action_mentions(text, strict=frozenset(strict)):
        happened = done.get(mention.action, False)
        if mention.claimed and not happened:
            problems.append(
                Problem(
                    "claim",
                    f"says a {mention.action} happens or happened ({mention.clause!r}); none did",
                )
            )
        elif mention.refused and happened:
            problems.append(
                Problem(
                    "claim",
                    f"says no {mention.action} ({mention.clause!r}), but one was made",
                )
            )
        elif mention.claimed and mention.action == "refund":
            paid = {p.amount for p in truth.payments}
            for fact in extract_facts(mention.clause):
                if fact.kind == "amount" and fact.value not in {str(a) for a in paid}:
                    problems.append(
                        Problem(
                            "claim",
                            f"says {fact.text} was refunded; the refund paid "
                            f"{', '.join(sorted(str(a) for a in paid))}",
                        )
                    )
    return problems


def _order_claims(text: str, truth: Truth) -> list[Problem]:
    order = truth.order
    if order is None:
        return []
    return [
        Problem(
            "fact",
            f"says the order is {status.replace('_', ' ')} ({clause!r}); "
            f"{order.order_id} is {order.status}",
        )
        for status, clause in dict(status_claims(text)).items()
        if status != order.status
    ]


def _invoice_claims(text: str, truth: Truth) -> list[Problem]:
    invoice = truth.invoice
    if invoice is None:
        return []
    problems = []
    for count, clause in charge_count_claims(text):
        if (count == "more") != (invoice.charged_count > 1):
            times = "once" if invoice.charged_count == 1 else f"{invoice.charged_count} times"
            said = "more than once" if count == "more" else "once"
            problems.append(
                Problem(
                    "fact",
                    f"says the invoice was charged {said} ({clause!r}); "
                    f"{invoice.invoice_id} was charged {times}",
                )
            )
    for reason, words in refusal_reasons(text):
        wrong = (
            reason != invoice.refusal
            if invoice.refusal is not None
            else reason in _NOT_FOR_REFUNDABLE
        )
        if wrong:
            truth_text = (
                f"the reason is {invoice.refusal}" if invoice.refusal else "it is refundable"
            )
            problems.append(
                Problem(
                    "fact",
                    f"gives {reason.replace('_', ' ')} as the reason ({words!r}); "
                    f"for {invoice.invoice_id} {truth_text}",
                )
            )
    return problems


def _missing(
    conversation: Conversation, text: str, stated: list[Fact], truth: Truth
) -> list[Problem]:
    if conversation.asks == "refund":
        return _missing_refund(text, stated, truth)
    if conversation.asks == "order_status":
        return _missing_order(text, stated, truth)
    if conversation.asks == "incident":
        ids = {f.value for f in stated if f.kind == "id"}
        return [
            Problem("missing", f"does not name the ticket opened, {t.ticket_id}")
            for t in truth.tickets
            if t.ticket_id.upper() not in ids
        ]
    problems = [
        Problem("missing", f"does not state {required!r}")
        for required in conversation.must_state
        if not any(fact_in(fact, [parse_fact(required)]) for fact in stated)
    ]
    problems.extend(
        Problem("missing", f"does not mention {word!r}")
        for word in conversation.must_mention
        if word.lower() not in text.lower()
    )
    return problems


def _missing_refund(text: str, stated: list[Fact], truth: Truth) -> list[Problem]:
    invoice = truth.invoice
    if invoice is None:
        return []
    mentions = action_mentions(text, strict=frozenset({"refund"}))
    refund = [m for m in mentions if m.action == "refund"]
    if invoice.refundable is None:
        if not any(m.refused for m in refund):
            return [
                Problem("missing", f"does not say that {invoice.invoice_id} cannot be refunded")
            ]
        return []
    problems = []
    if not any(m.definite for m in refund):
        problems.append(Problem("missing", "does not say the refund was made"))
    amounts = {f.value for f in stated if f.kind == "amount"}
    if str(invoice.refundable) not in amounts:
        problems.append(
            Problem("missing", f"does not state the amount refunded, {invoice.refundable}")
        )
    return problems


def _missing_order(text: str, stated: list[Fact], truth: Truth) -> list[Problem]:
    order = truth.order
    if order is None:
        return []
    problems = []
    if order.status not in {status for status, _ in status_claims(text)}:
        problems.append(Problem("missing", f"does not say the order is {order.status}"))
    if order.estimated_delivery is not None:
        said = [f for f in stated if f.kind in ("date", "weekday", "duration")]
        if not any(fact_in(fact, _arrival_facts(truth)) for fact in said):
            problems.append(
                Problem(
                    "missing",
                    f"does not give the estimated delivery, {order.estimated_delivery.isoformat()}",
                )
            )
    return problems


def _arrival_facts(truth: Truth) -> list[Fact]:
    order = truth.order
    if order is None or order.estimated_delivery is None:
        return []
    days = (order.estimated_delivery - truth.today).days * 86400
    return [
        Fact("date", order.estimated_delivery.isoformat()),
        Fact("duration", f"{days}-{days} second"),
    ]


def _pairs(pairs: Sequence[tuple[str, Decimal]]) -> str:
    return "[" + ", ".join(f"{i} {a}" for i, a in pairs) + "]" if pairs else "none"
