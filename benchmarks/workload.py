"""The benchmark's workload: the three demo conversations, asked in turn.

Each request carries its own ticket number, unique within a run and across the runs of one
process, so no two texts are the same and no cache answers for the embedder: the figures
are the cost of every request's full work. After
the first refund the policy check finds nothing left to refund: the workflow still runs
its full length, ending in an answer instead of a payment.
"""

from __future__ import annotations

import dataclasses

from conduit.demo import CONVERSATIONS, Conversation

WORKLOAD = CONVERSATIONS


def message_for(index: int, run: int = 0) -> Conversation:
    conversation = WORKLOAD[index % len(WORKLOAD)]
    ticket = f"{run}-{index}"
    return dataclasses.replace(conversation, text=f"{conversation.text} (ticket {ticket})")
