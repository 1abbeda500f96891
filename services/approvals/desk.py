"""The approvals desk: joins parked requests with people's decisions, and expires the rest.

A request parked by a step (`shared.runtime.approvals`) waits here, durably, until a person
approves or rejects its tool call (`conduit approvals`, or the gateway) or until it
expires. Either way it is resumed once, at the step that parked it, with the decision
attached (`StepEvent.approvals`) and a fresh deadline: the step then runs the call, or
fails it with a typed error that the workflow routes on. Nothing waits in memory, so the
desk and every service may restart in between.
"""

from __future__ import annotations

import logging

from services.approvals.pending import PendingApprovals
from shared.bus import Bus, Topics
from shared.contracts import (
    ApprovalDecision,
    ApprovalOutcome,
    ParkedRequest,
    Principal,
    derived_id,
    now_ms,
)
from shared.runtime.steps import headers_for
from shared.security import verify_decision
from shared.workflow import Continue, WorkflowRegistry, locate

log = logging.getLogger(__name__)

DESK = "approvals-desk"


class ApprovalDesk:
    """Example: feed it the parked requests (`on_parked`) and decisions (`on_decision`),
    and call `expire_due()` every second."""

    def __init__(
        self,
        bus: Bus,
        topics: Topics,
        pending: PendingApprovals,
        registry: WorkflowRegistry,
        *,
        principal_key: bytes | None,
    ) -> None:
        self._bus = bus
        self._topics = topics
        self._pending = pending
        self._registry = registry
        self._principal_key = principal_key

    async def on_parked(self, parked: ParkedRequest) -> None:
        if not parked.approval.approval_id:
            log.warning("a parked request without an approval id was dropped")
            return
        early = await self._pending.park(parked)
        if early is not None:
            await self._decide(early)

    async def on_decision(self, decision: ApprovalDecision) -> None:
        if await self._pending.get(decision.approval_id) is None:
            await self._pending.keep_early(decision)
            return
        await self._decide(decision)

    async def expire_due(self) -> int:
        """Resume every request whose approval ran out; how many there were."""
        expired = await self._pending.expired(now_ms())
        for approval_id in expired:
            decision = ApprovalDecision(
                approval_id=approval_id,
                outcome=ApprovalOutcome.APPROVAL_OUTCOME_EXPIRED,
                approver=Principal(user_id=DESK),
                at_unix_ms=now_ms(),
                comment="no decision before the approval expired",
            )
            await self._settle(decision)
        return len(expired)

    async def _decide(self, decision: ApprovalDecision) -> None:
        found = await self._pending.get(decision.approval_id)
        if found is None:
            return
        parked, _ = found
        refusal = self._refusal(decision, parked)
        if refusal:
            log.warning("decision on %s refused: %s", decision.approval_id, refusal)
            return
        if now_ms() >= parked.approval.expires_at_unix_ms:
            await self.expire_due()
            return
        await self._settle(decision)

    def _refusal(self, decision: ApprovalDecision, parked: ParkedRequest) -> str:
        """Why a decision may not count, or "" when it may."""
        outcome = decision.outcome
        allowed = (
            ApprovalOutcome.APPROVAL_OUTCOME_APPROVED,
            ApprovalOutcome.APPROVAL_OUTCOME_REJECTED,
        )
        if outcome not in allowed:
            return f"people approve or reject; outcome {ApprovalOutcome.Name(outcome)}"
        if self._principal_key is not None and not verify_decision(decision, self._principal_key):
            return "the approver is not vouched for"
        roles = set(parked.approval.approver_roles)
        if roles and not roles.intersection(decision.approver.roles):
            return f"{list(decision.approver.roles)} may not decide; {sorted(roles)} may"
        return ""

    async def _settle(self, decision: ApprovalDecision) -> None:
        parked = await self._pending.settle(decision.approval_id, decision.outcome)
        if parked is None:
            return  # decided already: a request is resumed once
        event = parked.event
        event.approvals.append(decision)
        envelope = event.envelope
        # The deadline covered the work before the pause; the work after gets the same span.
        if envelope.deadline_unix_ms:
            span_ms = max(envelope.deadline_unix_ms - envelope.created_unix_ms, 0)
            envelope.deadline_unix_ms = now_ms() + span_ms
        envelope.causation_id = envelope.event_id
        envelope.event_id = derived_id(envelope.event_id, f"approval:{decision.approval_id}")
        located = locate(self._registry, envelope.workflow)
        if not isinstance(located, Continue):
            log.error("parked request %s has no step to resume: %s", envelope.request_id, located)
            return
        await self._bus.publish(
            self._topics.step(located.step.service),
            event.SerializeToString(),
            key=envelope.session_id,
            headers=headers_for(event),
        )
        log.info(
            "resumed %s at %s.%s: %s",
            envelope.request_id,
            located.workflow.name,
            located.step_id,
            ApprovalOutcome.Name(decision.outcome),
        )
