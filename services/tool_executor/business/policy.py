"""The refund policy (`config/policies/refunds.yaml`) and its rule, as a pure function."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

REFUND_POLICY_FILE = "policies/refunds.yaml"


class RefundPolicy(BaseModel):
    """What may be refunded without a person. Example: `RefundPolicy(window_days=60, ...)`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_days: int = Field(gt=0)
    max_refund_per_invoice: Decimal = Field(gt=0, decimal_places=2)
    refund_duplicate_charges: bool
    refundable_statuses: list[str] = Field(min_length=1)

    @property
    def max_refund_cents(self) -> int:
        return int(self.max_refund_per_invoice * 100)


@dataclass(frozen=True, kw_only=True)
class Invoice:
    invoice_id: str
    customer_id: str
    amount_cents: int
    currency: str
    status: str
    charged_count: int
    issued_at: datetime


@dataclass(frozen=True, kw_only=True)
class RefundDecision:
    eligible: bool
    reason: str
    refundable_cents: int = 0


def decide_refund(
    policy: RefundPolicy, invoice: Invoice, refunded_cents: int, now: datetime
) -> RefundDecision:
    """Duplicate charges are refundable: amount * (charged_count - 1), less refunds paid."""
    if invoice.status not in policy.refundable_statuses:
        return RefundDecision(
            eligible=False, reason=f"the invoice is {invoice.status}, so it cannot be refunded"
        )
    if now - invoice.issued_at > timedelta(days=policy.window_days):
        return RefundDecision(
            eligible=False,
            reason=f"the invoice is older than the {policy.window_days}-day refund window",
        )
    if not policy.refund_duplicate_charges or invoice.charged_count < 2:
        return RefundDecision(
            eligible=False,
            reason="there is no duplicate charge on this invoice; other refunds need a person",
        )
    owed_cents = invoice.amount_cents * (invoice.charged_count - 1)
    if owed_cents > policy.max_refund_cents:
        return RefundDecision(
            eligible=False,
            reason=f"the duplicate charges exceed the automatic limit of "
            f"{policy.max_refund_per_invoice} {invoice.currency}; a person must approve",
        )
    refundable_cents = owed_cents - refunded_cents
    if refundable_cents <= 0:
        return RefundDecision(eligible=False, reason="the duplicate charge was already refunded")
    return RefundDecision(
        eligible=True,
        reason=f"duplicate charge: charged {invoice.charged_count} times",
        refundable_cents=refundable_cents,
    )
