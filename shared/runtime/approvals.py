"""Parking a request until a person approves a tool call, and the response that says so.

A step raises `AwaitingApproval`; the runtime then publishes the request, as it stood at
that step, to the approvals topic (`ParkedRequest`), records the request on the audit
trail, and answers the caller with a `pending` response. The approvals desk
(`services/approvals`) resumes it at the same step once a person decides, or when the
approval expires.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from shared.bus import Bus, Topics
from shared.contracts import (
    ApprovalDecision,
    ApprovalOutcome,
    ApprovalRequest,
    DecisionEvent,
    Pending,
    Principal,
    Response,
    StepEvent,
    derived_id,
    now_ms,
)
from shared.runtime.responses import base_response
from shared.security import sign_decision

APPROVAL = "approval"
DECISION_TYPE = "application/x-protobuf; type=conduit.v1.DecisionEvent"
Verb = Literal["approve", "reject"]
OUTCOMES: dict[str, ApprovalOutcome] = {
    "approve": ApprovalOutcome.APPROVAL_OUTCOME_APPROVED,
    "reject": ApprovalOutcome.APPROVAL_OUTCOME_REJECTED,
}
PENDING_MESSAGE = "Your request needs a person's approval; we will follow up once they decide."


class AwaitingApproval(Exception):
    """Raised by a step whose tool call may run only after a person approves it."""

    def __init__(self, request: ApprovalRequest) -> None:
        super().__init__(f"{request.tool} awaits approval {request.approval_id}")
        self.request = request


def pending_response(event: StepEvent, request: ApprovalRequest) -> Response:
    response = base_response(event)
    response.envelope.event_id = derived_id(event.envelope.event_id, "pending")
    response.pending.CopyFrom(
        Pending(
            approval_id=request.approval_id,
            tool=request.tool,
            expires_at_unix_ms=request.expires_at_unix_ms,
            message=PENDING_MESSAGE,
        )
    )
    return response


def decision_for(
    approval_id: str,
    verb: Verb,
    *,
    user: str,
    roles: Sequence[str],
    comment: str = "",
    key: bytes | None,
) -> ApprovalDecision:
    """A person's decision, signed with `key` (the principal key) when there is one."""
    decision = ApprovalDecision(
        approval_id=approval_id,
        outcome=OUTCOMES[verb],
        approver=Principal(user_id=user, roles=list(roles)),
        at_unix_ms=now_ms(),
        comment=comment,
    )
    if key is not None:
        sign_decision(decision, key)
    return decision


async def publish_decision(bus: Bus, topics: Topics, decision: ApprovalDecision) -> None:
    """Hand `decision` to the approvals desk (the decisions topic, keyed by approval id)."""
    await bus.publish(
        topics.approval_decisions,
        DecisionEvent(decision=decision).SerializeToString(),
        key=decision.approval_id,
        headers={"content-type": DECISION_TYPE},
    )
