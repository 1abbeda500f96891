"""The benchmark's workload: the three demo conversations, asked in turn.

After the first refund the policy check finds nothing left to refund: the workflow still
runs its full length, ending in an answer instead of a payment.
"""

from __future__ import annotations

from conduit.demo import CONVERSATIONS, Conversation

WORKLOAD = CONVERSATIONS


def message_for(index: int) -> Conversation:
    return WORKLOAD[index % len(WORKLOAD)]
