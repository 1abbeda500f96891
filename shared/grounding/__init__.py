"""Grounding: every fact an answer states must come from this request's tool results or
retrieved chunks, and every action it says happened from a call that completed.

A pure library (no I/O), the heart of the output guardrail's `grounded` and
`claims_match_actions` checks. Findings name the kind of fact and where it should have
come from, never its value:

>>> from shared.contracts import ToolCall, ToolExchange
>>> order = ToolExchange(
...     call=ToolCall(tool="lookup_order", arguments_json='{"order_id": "ORD-5001"}'),
...     ok=True,
...     result_json='{"order_id": "ORD-5001", "status": "shipped"}',
... )
>>> evidence = Evidence.from_request([order], [])
>>> [f.describe() for f in ungrounded("Order ORD-5001 has been delivered.", evidence)]
['the answer states a status that is in no tool result or source \
(expected from lookup_order.status)']

The spaCy pipeline that reads statuses and claims loads on first use (about a second);
a service calls `load_pipeline()` at start-up so that no request pays for it.
"""

from shared.grounding.claims import (
    ActionVocabulary,
    Claim,
    claimed_actions,
    mentioned_actions,
    refused_actions,
    unbacked_claims,
)
from shared.grounding.evidence import Evidence, Fact
from shared.grounding.grammar import load_pipeline
from shared.grounding.kinds import KINDS, Kind, Mention
from shared.grounding.matching import Finding, FindingKind, is_grounded, ungrounded
from shared.grounding.mentions import find_mentions
from shared.grounding.tense import misdated

__all__ = [
    "KINDS",
    "ActionVocabulary",
    "Claim",
    "Evidence",
    "Fact",
    "Finding",
    "FindingKind",
    "Kind",
    "Mention",
    "claimed_actions",
    "find_mentions",
    "is_grounded",
    "load_pipeline",
    "mentioned_actions",
    "misdated",
    "refused_actions",
    "unbacked_claims",
    "ungrounded",
]
