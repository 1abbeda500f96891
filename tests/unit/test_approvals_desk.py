"""The approvals desk: a parked request is resumed once, at its step, with the first of a
person's decision and its expiry; forged or unauthorised decisions change nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.approvals.desk import ApprovalDesk
from services.approvals.pending import PendingApprovals
from shared.bus import BusMessage, MemoryBus, Topics
from shared.config import repo_root
from shared.contracts import (
    ApprovalDecision,
    ApprovalOutcome,
    ApprovalRequest,
    ParkedRequest,
    Principal,
    StepEvent,
    WorkflowPosition,
    new_envelope,
    now_ms,
)
from shared.security import sign_decision
from shared.workflow import WorkflowRegistry

KEY = b"desk-test-key"
APPROVED = ApprovalOutcome.APPROVAL_OUTCOME_APPROVED
REJECTED = ApprovalOutcome.APPROVAL_OUTCOME_REJECTED
EXPIRED = ApprovalOutcome.APPROVAL_OUTCOME_EXPIRED


@dataclass
class Desk:
    desk: ApprovalDesk
    resumed: list[StepEvent]
    bus: MemoryBus


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    bus, topics = MemoryBus(), Topics("desk")
    resumed: list[StepEvent] = []

    async def keep(message: BusMessage) -> None:
        resumed.append(StepEvent.FromString(message.value))

    bus.subscribe([topics.step("tool-executor")], group="tool-executor", handler=keep)
    await bus.start()
    pending = PendingApprovals(tmp_path / "pending.sqlite3")
    registry = WorkflowRegistry.load(repo_root() / "config" / "workflows")
    yield Desk(ApprovalDesk(bus, topics, pending, registry, principal_key=KEY), resumed, bus)
    await pending.close()
    await bus.stop()


def _parked(
    approval_id: str = "r1:refund.act@6:c1", *, expires_in_ms: int = 60_000
) -> ParkedRequest:
    event = StepEvent(envelope=new_envelope(session_id="s1", timeout_s=30))
    event.envelope.workflow.CopyFrom(
        WorkflowPosition(name="refund", version="1.0", step="act", steps_taken=6)
    )
    approval = ApprovalRequest(
        approval_id=approval_id,
        tool="issue_refund",
        arguments_json='{"amount":49.99,"invoice_id":"INV-1001"}',
        requested_at_unix_ms=now_ms(),
        expires_at_unix_ms=now_ms() + expires_in_ms,
        approver_roles=["supervisor"],
        tenant_id="default",
    )
    return ParkedRequest(approval=approval, event=event)


def _decision(
    approval_id: str,
    outcome: ApprovalOutcome = APPROVED,
    *,
    roles: tuple[str, ...] = ("supervisor",),
) -> ApprovalDecision:
    decision = ApprovalDecision(
        approval_id=approval_id,
        outcome=outcome,
        approver=Principal(user_id="sam", roles=roles),
        at_unix_ms=now_ms(),
    )
    sign_decision(decision, KEY)
    return decision


async def test_an_approval_resumes_the_request_at_its_step_once(desk: Desk) -> None:
    parked = _parked()
    await desk.desk.on_parked(parked)

    await desk.desk.on_decision(_decision(parked.approval.approval_id))
    await desk.desk.on_decision(_decision(parked.approval.approval_id, REJECTED))
    await desk.bus.idle()

    [resumed] = desk.resumed
    assert resumed.envelope.workflow.step == "act", "it must resume at the step that parked it"
    assert [d.outcome for d in resumed.approvals] == [APPROVED], "the first decision counts"
    assert resumed.envelope.event_id != parked.event.envelope.event_id, "a new event id"
    assert resumed.envelope.deadline_unix_ms > parked.event.envelope.deadline_unix_ms, (
        "the work after the pause gets a fresh deadline"
    )


async def test_an_approval_not_decided_in_time_resumes_as_expired(desk: Desk) -> None:
    parked = _parked(expires_in_ms=-1)
    await desk.desk.on_parked(parked)

    expired = await desk.desk.expire_due()
    await desk.desk.on_decision(_decision(parked.approval.approval_id))
    await desk.bus.idle()

    assert expired == 1
    [resumed] = desk.resumed
    assert [d.outcome for d in resumed.approvals] == [EXPIRED], "a late approval must not count"


async def test_a_decision_that_comes_before_its_parked_request_is_applied_when_it_comes(
    desk: Desk,
) -> None:
    parked = _parked()
    await desk.desk.on_decision(_decision(parked.approval.approval_id, REJECTED))
    assert not desk.resumed

    await desk.desk.on_parked(parked)
    await desk.bus.idle()

    [resumed] = desk.resumed
    assert [d.outcome for d in resumed.approvals] == [REJECTED]


@pytest.mark.parametrize(
    ("tamper", "why"),
    [
        (lambda d: d.approver.roles.append("admin"), "roles changed after signing"),
        (lambda d: setattr(d.approver, "signature", ""), "unsigned"),
    ],
)
async def test_a_decision_not_vouched_for_changes_nothing(
    desk: Desk, tamper: Callable[[ApprovalDecision], object], why: str
) -> None:
    parked = _parked()
    await desk.desk.on_parked(parked)
    decision = _decision(parked.approval.approval_id)
    tamper(decision)

    await desk.desk.on_decision(decision)
    await desk.bus.idle()

    assert not desk.resumed, f"a decision {why} resumed the request"


async def test_only_the_approver_roles_may_decide(desk: Desk) -> None:
    parked = _parked()
    await desk.desk.on_parked(parked)

    await desk.desk.on_decision(_decision(parked.approval.approval_id, roles=("customer",)))
    await desk.bus.idle()

    assert not desk.resumed, "a customer approved their own refund"
