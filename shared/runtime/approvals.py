"""Parking a request until a person approves a tool call, and the response that says so.

A step raises `AwaitingApproval`; the runtime then publishes the request, as it stood at
that step, to the approvals topic (`ParkedRequest`), records the request on the audit
trail, and answers the caller with a `pending` response. The approvals desk
(`services/approvals`) resumes it at the same step once a person decides, or when the
approval expires.
"""

from __future__ import annotations

from shared.contracts import ApprovalRequest, Pending, Response, StepEvent, derived_id
from shared.runtime.responses import base_response

APPROVAL = "approval"
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
