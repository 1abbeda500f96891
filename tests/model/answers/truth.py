"""The truth of one conversation, from the company's own data and never from the pipeline's
tool results: the business database the conversation ran on (as created from
config/demo/business.sql, read after the run), the refund policy (config/policies/refunds.yaml,
applied by this module's own reading of it), the knowledge base (config/knowledge) and the
IT-ops example estate (examples/itops) with the tickets its API holds.

`Truth.facts` is every fact the answer may state; the rest says what happened.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from examples.itops import data as itops_data
from shared.config import repo_root
from tests.model.answers.dataset import Conversation
from tests.model.answers.facts import Fact, extract_facts

__all__ = [
    "EXPECTED_TEAMS",
    "KNOWLEDGE_NAMES",
    "InvoiceTruth",
    "OrderTruth",
    "Payment",
    "Policy",
    "Ticket",
    "Truth",
    "assemble",
    "build_truth",
    "business_db_path",
    "invoice_truth",
    "knowledge_facts",
    "load_policy",
    "read_payments",
]

CONFIG = repo_root() / "config"
KNOWLEDGE_DIR = CONFIG / "knowledge"
POLICY_FILE = CONFIG / "policies" / "refunds.yaml"
KNOWLEDGE_NAMES = tuple(sorted(path.stem for path in KNOWLEDGE_DIR.glob("*.md")))
# The on-call team an alert's ticket belongs to, by the routing rules the incident router is
# given (config/prompts/incident_router) applied to examples/itops/data.py: payments' errors
# began after its own deploy 16 minutes ago; checkout's logs show its upstream payments
# failing; search's logs show nothing wrong, so the platform team.
EXPECTED_TEAMS = {
    "payments": "payments-oncall",
    "checkout": "payments-oncall",
    "search": "platform-oncall",
}
# Log and deploy times are relative to when the IT-ops API answers: an answer may state
# them within this many minutes of the judge's reading.
_CLOCK_TOLERANCE_MIN = 10


@dataclass(frozen=True)
class Policy:
    window_days: int
    max_refund: Decimal
    refund_duplicates: bool
    refundable_statuses: tuple[str, ...]


@dataclass(frozen=True)
class InvoiceTruth:
    """`refundable`: what may be refunded now (None: nothing); `refusal` says why not:
    void (status), window, no_duplicate, limit, already_refunded."""

    invoice_id: str
    amount: Decimal
    currency: str
    status: str
    charged_count: int
    issued_on: date
    refundable: Decimal | None
    refusal: str | None


@dataclass(frozen=True)
class OrderTruth:
    order_id: str
    status: str
    carrier: str | None
    tracking_number: str | None
    estimated_delivery: date | None


@dataclass(frozen=True)
class Payment:
    payment_id: str
    invoice_id: str
    amount: Decimal
    currency: str
    paid_at: datetime | None = None


@dataclass(frozen=True)
class Ticket:
    ticket_id: str
    service: str
    severity: str
    team: str
    title: str = ""


@dataclass(frozen=True)
class Truth:
    """`payments`: refunds paid during the conversation; `tickets`: incident tickets opened
    during it (the IT-ops API's list, before and after)."""

    today: date
    invoice: InvoiceTruth | None = None
    order: OrderTruth | None = None
    payments: tuple[Payment, ...] = ()
    tickets: tuple[Ticket, ...] = ()
    facts: frozenset[Fact] = field(default_factory=frozenset)


def business_db_path(data_dir: Path) -> Path:
    return data_dir / "tool-executor" / "business.sqlite3"


@cache
def load_policy(path: Path = POLICY_FILE) -> Policy:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Policy(
        window_days=int(raw["window_days"]),
        max_refund=Decimal(str(raw["max_refund_per_invoice"])).quantize(Decimal("0.01")),
        refund_duplicates=bool(raw["refund_duplicate_charges"]),
        refundable_statuses=tuple(raw["refundable_statuses"]),
    )


def invoice_truth(
    row: sqlite3.Row | dict[str, Any], policy: Policy, *, now: datetime, refunded: Decimal
) -> InvoiceTruth:
    """The refund rule as the policy file states it: a paid invoice, within the window, charged
    more than once: amount x (charges - 1), up to the limit, less what was refunded."""
    amount = (Decimal(row["amount_cents"]) / 100).quantize(Decimal("0.01"))
    issued = datetime.fromisoformat(str(row["issued_at"])).replace(tzinfo=UTC)
    owed = amount * (int(row["charged_count"]) - 1)
    refusal = None
    if row["status"] not in policy.refundable_statuses:
        refusal = "void" if row["status"] == "void" else f"status {row['status']}"
    elif now - issued > timedelta(days=policy.window_days):
        refusal = "window"
    elif not policy.refund_duplicates or int(row["charged_count"]) < 2:
        refusal = "no_duplicate"
    elif owed > policy.max_refund:
        refusal = "limit"
    elif owed - refunded <= 0:
        refusal = "already_refunded"
    return InvoiceTruth(
        invoice_id=str(row["invoice_id"]),
        amount=amount,
        currency=str(row["currency"]),
        status=str(row["status"]),
        charged_count=int(row["charged_count"]),
        issued_on=issued.date(),
        refundable=None if refusal else owed - refunded,
        refusal=refusal,
    )


@cache
def knowledge_facts(names: tuple[str, ...], directory: Path = KNOWLEDGE_DIR) -> frozenset[Fact]:
    """Every fact the named documents (config/knowledge/<name>.md) state."""
    facts: set[Fact] = set()
    for name in names:
        facts.update(extract_facts((directory / f"{name}.md").read_text(encoding="utf-8")))
    return frozenset(facts)


def read_payments(db: sqlite3.Connection) -> tuple[Payment, ...]:
    rows = db.execute(
        "SELECT payment_id, invoice_id, amount_cents, currency, created_at FROM payments"
        " ORDER BY created_at"
    ).fetchall()
    return tuple(
        Payment(
            payment_id=row["payment_id"],
            invoice_id=row["invoice_id"],
            amount=(Decimal(row["amount_cents"]) / 100).quantize(Decimal("0.01")),
            currency=row["currency"],
            paid_at=datetime.fromisoformat(row["created_at"]),
        )
        for row in rows
    )


def build_truth(
    conversation: Conversation,
    *,
    data_dir: Path,
    opened_tickets: Sequence[Ticket] = (),
    now: datetime | None = None,
) -> Truth:
    """The truth of `conversation` after it ran on `data_dir` (a fresh data dir: every
    payment in it was made by this conversation)."""
    now = now or datetime.now(UTC)
    invoice = order = None
    payments: tuple[Payment, ...] = ()
    path = business_db_path(data_dir)
    if path.exists():
        with closing(_connect(path)) as db:
            payments = read_payments(db)
            if conversation.invoice:
                invoice = _invoice(db, conversation.invoice, now)
            if conversation.order:
                order = _order(db, conversation.order)
    elif conversation.invoice or conversation.order:
        raise LookupError(f"no business database at {path}: the tool-executor never started")
    return assemble(
        conversation,
        today=now.date(),
        invoice=invoice,
        order=order,
        payments=payments,
        tickets=opened_tickets,
    )


def assemble(
    conversation: Conversation,
    *,
    today: date,
    invoice: InvoiceTruth | None = None,
    order: OrderTruth | None = None,
    payments: Sequence[Payment] = (),
    tickets: Sequence[Ticket] = (),
) -> Truth:
    """The truth from its parts: what the answer may state is the conversation's documents,
    its invoice (with the policy's window and limit), its order, the payments made and, for
    an alert, the IT-ops estate and the tickets opened."""
    facts: set[Fact] = set(knowledge_facts(conversation.knowledge))
    if invoice is not None:
        facts.update(_invoice_facts(invoice))
    if order is not None:
        facts.update(_order_facts(order, today))
    for payment in payments:
        facts.update(_ids_and_amounts(payment.payment_id, payment.amount, payment.currency))
        if payment.paid_at is not None:
            facts.add(Fact("date", payment.paid_at.date().isoformat()))
            facts.add(Fact("time", payment.paid_at.strftime("%H:%M")))
    if conversation.service:
        facts.update(_incident_facts(conversation, tickets))
    return Truth(
        today=today,
        invoice=invoice,
        order=order,
        payments=tuple(payments),
        tickets=tuple(tickets),
        facts=frozenset(facts),
    )


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    return db


def _invoice(db: sqlite3.Connection, invoice_id: str, now: datetime) -> InvoiceTruth:
    row = db.execute("SELECT * FROM invoices WHERE invoice_id = ?", (invoice_id,)).fetchone()
    if row is None:
        raise LookupError(f"the company has no invoice {invoice_id}")
    # What was refundable when the conversation began, on its fresh database: the
    # conversation's own payments are what is judged, not subtracted.
    return invoice_truth(row, load_policy(), now=now, refunded=Decimal(0))


def _order(db: sqlite3.Connection, order_id: str) -> OrderTruth:
    row = db.execute("SELECT * FROM orders WHERE order_id = ?", (order_id,)).fetchone()
    if row is None:
        raise LookupError(f"the company has no order {order_id}")
    estimated = row["estimated_delivery"]
    return OrderTruth(
        order_id=row["order_id"],
        status=row["status"],
        carrier=row["carrier"],
        tracking_number=row["tracking_number"],
        estimated_delivery=date.fromisoformat(estimated) if estimated else None,
    )


def _invoice_facts(invoice: InvoiceTruth) -> set[Fact]:
    policy = load_policy()
    facts = _ids_and_amounts(invoice.invoice_id, invoice.amount, invoice.currency)
    facts.add(Fact("date", invoice.issued_on.isoformat()))
    if invoice.refundable is not None:
        facts.add(Fact("amount", str(invoice.refundable)))
    # What a refusal may quote of the policy: its window and its limit.
    facts.add(Fact("amount", str(policy.max_refund)))
    facts.add(Fact("duration", f"{policy.window_days * 86400}-{policy.window_days * 86400} second"))
    return facts


def _order_facts(order: OrderTruth, today: date) -> set[Fact]:
    facts = {Fact("id", order.order_id)}
    if order.carrier:
        facts.add(Fact("carrier", order.carrier.lower()))
    if order.tracking_number:
        facts.add(Fact("tracking", order.tracking_number.upper()))
    if order.estimated_delivery:
        facts.add(Fact("date", order.estimated_delivery.isoformat()))
        days = (order.estimated_delivery - today).days
        if days > 0:  # "arrives in 2 days"
            facts.add(Fact("duration", f"{days * 86400}-{days * 86400} second"))
    return facts


def _ids_and_amounts(identifier: str, amount: Decimal, currency: str) -> set[Fact]:
    return {
        Fact("id", identifier.upper()),
        Fact("amount", str(amount)),
        Fact("currency", currency.upper()),
    }


def _incident_facts(conversation: Conversation, tickets: Sequence[Ticket]) -> set[Fact]:
    """The alert (the operator's monitoring data), the alerted service's logs and deploys as
    the IT-ops API serves them, and the tickets opened."""
    service = conversation.service or ""
    facts = set(extract_facts(conversation.text))
    estate = {
        "logs": itops_data.recent_logs(service, since_minutes=10**6),
        "deploys": itops_data.recent_deploys(service),
    }
    facts.update(extract_facts(json.dumps(estate)))
    for entry in [*estate["logs"], *estate["deploys"]]:
        at = datetime.fromisoformat(entry["at"])
        for minutes in range(-_CLOCK_TOLERANCE_MIN, _CLOCK_TOLERANCE_MIN + 1):
            moment = at + timedelta(minutes=minutes)
            facts.add(Fact("time", moment.strftime("%H:%M")))
            facts.add(Fact("date", moment.date().isoformat()))
    for ticket in tickets:
        facts.add(Fact("id", ticket.ticket_id.upper()))
        facts.add(Fact("severity", ticket.severity.lower()))
        facts.add(Fact("team", ticket.team.lower()))
    return facts
