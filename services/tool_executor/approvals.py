"""Tool calls that need a person's approval: park the request until one decides.

A call of a tool with an `approval` policy runs only once the request carries an approval
for it (`StepEvent.approvals`, keyed by the call's idempotency key). Without one, the step
parks the request (`AwaitingApproval`: the runtime hands it to the approvals desk); with
a rejection or an expiry, the call fails with a typed error the workflow routes on.
"""

from __future__ import annotations

from services.tool_executor.calls import CheckedCall
from services.tool_executor.ledger import Outcome
from shared.contracts import ApprovalOutcome, ApprovalRequest, StepEvent, now_ms

APPROVAL_REJECTED = "APPROVAL_REJECTED"
APPROVAL_EXPIRED = "APPROVAL_EXPIRED"


def decision_of(event: StepEvent, approval_id: str) -> ApprovalOutcome | None:
    """The decision on `approval_id` the request carries, if any."""
    for decision in event.approvals:
        if decision.approval_id == approval_id:
            return decision.outcome
    return None


def approval_request(event: StepEvent, checked: CheckedCall, approval_id: str) -> ApprovalRequest:
    policy = checked.spec.approval
    if policy is None:
        raise ValueError(f"{checked.spec.name} needs no approval")
    requested = now_ms()
    envelope = event.envelope
    return ApprovalRequest(
        approval_id=approval_id,
        tool=checked.spec.name,
        arguments_json=checked.call.arguments_json,
        requested_at_unix_ms=requested,
        expires_at_unix_ms=requested + int(policy.expires_after_s * 1000),
        approver_roles=list(policy.approver_roles),
        tenant_id=envelope.tenant_id,
        request_id=envelope.request_id,
        session_id=envelope.session_id,
    )


def refusal(outcome: ApprovalOutcome, tool: str) -> Outcome | None:
    """The failed outcome of a call its approver turned down or let expire; None if approved."""
    if outcome == ApprovalOutcome.APPROVAL_OUTCOME_APPROVED:
        return None
    if outcome == ApprovalOutcome.APPROVAL_OUTCOME_EXPIRED:
        return Outcome(
            ok=False,
            error_code=APPROVAL_EXPIRED,
            error_message=f"{tool} was not approved before its approval expired",
        )
    return Outcome(
        ok=False, error_code=APPROVAL_REJECTED, error_message=f"{tool} was rejected by its approver"
    )
