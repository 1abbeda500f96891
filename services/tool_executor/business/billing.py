"""Billing tools: look up an invoice, check the refund policy, issue a refund."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from services.tool_executor.business.context import JsonObject, ToolContext, ToolFailure
from services.tool_executor.business.policy import Invoice, RefundDecision, decide_refund
from services.tool_executor.sqlite import immediate

__all__ = ["check_refund_policy", "issue_refund", "lookup_invoice"]


def lookup_invoice(context: ToolContext, *, invoice_id: str) -> JsonObject:
    invoice = _invoice(context.db, invoice_id)
    return {
        "invoice_id": invoice.invoice_id,
        "amount": _amount(invoice.amount_cents),
        "currency": invoice.currency,
        "status": invoice.status,
        "charged_count": invoice.charged_count,
        "issued_at": invoice.issued_at.date().isoformat(),
        "refunded": _amount(_refunded_cents(context.db, invoice_id)),
    }


def check_refund_policy(context: ToolContext, *, invoice_id: str) -> JsonObject:
    invoice = _invoice(context.db, invoice_id)
    decision = _decide(context, invoice)
    return {
        "invoice_id": invoice.invoice_id,
        "eligible": decision.eligible,
        "reason": decision.reason,
        "refundable_amount": _amount(decision.refundable_cents),
        "currency": invoice.currency,
    }


def issue_refund(context: ToolContext, *, invoice_id: str, amount: float) -> JsonObject:
    """Pays at most what the policy still allows; a rerun of the same call pays nothing new."""
    cents = int((Decimal(str(amount)) * 100).to_integral_value())
    with immediate(context.db) as db:
        earlier = db.execute(
            "SELECT * FROM payments WHERE idempotency_key = ?", (context.idempotency_key,)
        ).fetchone()
        if earlier is not None:
            if (earlier["invoice_id"], earlier["amount_cents"]) != (invoice_id, cents):
                raise ToolFailure(
                    "IDEMPOTENCY_CONFLICT",
                    f"key {context.idempotency_key} already paid a different refund",
                )
            return _payment(earlier)
        invoice = _invoice(db, invoice_id)
        decision = _decide(context, invoice)
        if not decision.eligible:
            raise ToolFailure("REFUND_NOT_ALLOWED", decision.reason)
        if cents > decision.refundable_cents:
            raise ToolFailure(
                "REFUND_NOT_ALLOWED",
                f"{_amount(cents)} {invoice.currency} is more than the "
                f"{_amount(decision.refundable_cents)} {invoice.currency} still refundable",
            )
        db.execute(
            "INSERT INTO payments (payment_id, invoice_id, amount_cents, currency, kind,"
            " idempotency_key, created_at) VALUES (?, ?, ?, ?, 'refund', ?, ?)",
            (
                f"PAY-{uuid.uuid4().hex[:12].upper()}",
                invoice_id,
                cents,
                invoice.currency,
                context.idempotency_key,
                datetime.now(UTC).isoformat(timespec="seconds"),
            ),
        )
        paid = db.execute(
            "SELECT * FROM payments WHERE idempotency_key = ?", (context.idempotency_key,)
        ).fetchone()
    return _payment(paid)


def _invoice(db: sqlite3.Connection, invoice_id: str) -> Invoice:
    row = db.execute("SELECT * FROM invoices WHERE invoice_id = ?", (invoice_id,)).fetchone()
    if row is None:
        raise ToolFailure("INVOICE_NOT_FOUND", f"there is no invoice {invoice_id}")
    return Invoice(
        invoice_id=row["invoice_id"],
        customer_id=row["customer_id"],
        amount_cents=row["amount_cents"],
        currency=row["currency"],
        status=row["status"],
        charged_count=row["charged_count"],
        issued_at=datetime.fromisoformat(row["issued_at"]).replace(tzinfo=UTC),
    )


def _refunded_cents(db: sqlite3.Connection, invoice_id: str) -> int:
    row = db.execute(
        "SELECT COALESCE(SUM(amount_cents), 0) FROM payments"
        " WHERE invoice_id = ? AND kind = 'refund'",
        (invoice_id,),
    ).fetchone()
    refunded: int = row[0]
    return refunded


def _decide(context: ToolContext, invoice: Invoice) -> RefundDecision:
    refunded = _refunded_cents(context.db, invoice.invoice_id)
    return decide_refund(context.refund_policy, invoice, refunded, datetime.now(UTC))


def _amount(cents: int) -> float:
    return cents / 100


def _payment(row: sqlite3.Row) -> JsonObject:
    return {
        "payment_id": row["payment_id"],
        "invoice_id": row["invoice_id"],
        "amount": _amount(row["amount_cents"]),
        "currency": row["currency"],
        "status": "issued",
        "created_at": row["created_at"],
    }
