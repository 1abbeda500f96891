"""The benchmark's workload: the three demo conversations, asked in turn."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    """Example: `WORKLOAD[0].workflow == "refund"`."""

    workflow: str
    text: str


WORKLOAD = (
    # After the first refund the policy check finds nothing left to refund: the workflow
    # still runs its full length, ending in an answer instead of a payment.
    Message("refund", "I was charged twice for invoice INV-1001, please refund me"),
    Message("order_status", "Where is my order ORD-5001?"),
    Message("product_question", "How long is the warranty and what does it cover?"),
)


def message_for(index: int) -> Message:
    return WORKLOAD[index % len(WORKLOAD)]
