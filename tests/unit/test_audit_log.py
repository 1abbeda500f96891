"""The audit log of a step: redacted details, ids that repeat on redelivery, who asked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.bus import BusMessage, MemoryBus, Topics
from shared.config import ConduitSettings, repo_root
from shared.contracts import AuditRecord, Envelope, StepEvent, WorkflowPosition, new_envelope
from shared.runtime import StepCall, StepService
from shared.runtime.audit import DETAIL_MAX_CHARS, AuditLog
from shared.runtime.dedupe import ProcessedEvents
from shared.runtime.steps import StepRunner
from shared.workflow import WorkflowRegistry

TOPICS = Topics("conduit")
CARD = "4111 1111 1111 1111"
EMAIL = "ann@example.com"


@pytest.fixture
async def bus() -> AsyncIterator[MemoryBus]:
    bus = MemoryBus()
    await bus.start()
    yield bus
    await bus.stop()


async def _audited(bus: MemoryBus) -> list[BusMessage]:
    published: list[BusMessage] = []

    async def keep(message: BusMessage) -> None:
        published.append(message)

    await bus.listen(TOPICS.audit, keep)
    return published


def _envelope() -> Envelope:
    return new_envelope(
        session_id="session-1", tenant_id="acme", user_id="u-7", roles=["customer", "agent"]
    )


def _log(bus: MemoryBus, envelope: Envelope) -> AuditLog:
    return AuditLog(bus, TOPICS.audit, envelope, service="tool-executor", step="act")


async def test_detail_is_redacted_before_it_is_published(bus: MemoryBus) -> None:
    published = await _audited(bus)

    await _log(bus, _envelope()).record(
        "tool_call", "issue_refund", "ok", detail=f'{{"card": "{CARD}", "email": "{EMAIL}"}}'
    )
    await asyncio.sleep(0.05)

    [message] = published
    record = AuditRecord.FromString(message.value)
    assert record.detail == '{"card": "[CARD]", "email": "[EMAIL]"}', record.detail
    assert CARD.encode() not in message.value, "the card number reached the audit topic"
    assert EMAIL.encode() not in message.value, "the email address reached the audit topic"


async def test_a_long_detail_is_cut_after_redaction_so_no_card_digits_survive(
    bus: MemoryBus,
) -> None:
    detail = "x" * (DETAIL_MAX_CHARS - 10) + " " + CARD

    record = await _log(bus, _envelope()).record("tool_call", "t", "ok", detail=detail)

    assert len(record.detail) <= DETAIL_MAX_CHARS, f"detail not bounded: {len(record.detail)}"
    assert "4111" not in record.detail, "cutting before redacting left part of the card"


async def test_a_redelivered_step_writes_records_with_the_same_audit_id(bus: MemoryBus) -> None:
    envelope = _envelope()

    first = await _log(bus, envelope).record("tool_call", "issue_refund", "ok", idempotency_key="k")
    again = await _log(bus, envelope).record(
        "tool_call", "issue_refund", "ok", detail="replayed", idempotency_key="k"
    )

    assert first.audit_id == again.audit_id, "a redelivery must repeat the audit id"


@pytest.mark.parametrize(
    ("kind", "subject", "key"),
    [
        ("guardrail", "issue_refund", "k"),
        ("tool_call", "lookup_invoice", "k"),
        ("tool_call", "issue_refund", "k2"),
    ],
)
async def test_another_kind_subject_or_key_gets_another_audit_id(
    bus: MemoryBus, kind: str, subject: str, key: str
) -> None:
    log = _log(bus, _envelope())

    base = await log.record("tool_call", "issue_refund", "ok", idempotency_key="k")
    other = await log.record(kind, subject, "ok", idempotency_key=key)

    assert base.audit_id != other.audit_id, f"{kind}/{subject}/{key} reused the audit id"


async def test_another_event_gets_another_audit_id(bus: MemoryBus) -> None:
    first = await _log(bus, _envelope()).record("tool_call", "t", "ok", idempotency_key="k")
    second = await _log(bus, _envelope()).record("tool_call", "t", "ok", idempotency_key="k")

    assert first.audit_id != second.audit_id, "two events' records must not dedupe together"


async def test_a_record_says_who_asked_for_which_request_and_is_keyed_by_tenant(
    bus: MemoryBus,
) -> None:
    published = await _audited(bus)
    envelope = _envelope()

    await _log(bus, envelope).record(
        "authorization", "issue_refund", "refused", idempotency_key="k"
    )
    await asyncio.sleep(0.05)

    [message] = published
    record = AuditRecord.FromString(message.value)
    assert message.key == b"acme", f"audit records are keyed by tenant, got {message.key!r}"
    assert (record.request_id, record.session_id, record.tenant_id) == (
        envelope.request_id,
        "session-1",
        "acme",
    ), record
    assert record.principal.user_id == "u-7", record.principal
    assert list(record.principal.roles) == ["customer", "agent"], record.principal
    assert (record.service, record.step) == ("tool-executor", "act"), record
    assert (record.kind, record.subject, record.outcome, record.idempotency_key) == (
        "authorization",
        "issue_refund",
        "refused",
        "k",
    ), record
    assert record.at_unix_ms >= envelope.created_unix_ms, "the record must be stamped with now"


async def test_later_changes_to_the_event_do_not_change_who_is_recorded(bus: MemoryBus) -> None:
    envelope = _envelope()
    log = _log(bus, envelope)
    envelope.principal.user_id = "someone-else"

    record = await log.record("guardrail", "input", "pass")

    assert record.principal.user_id == "u-7", "the log must keep the envelope it was given"


async def test_the_step_runner_gives_each_step_an_audit_log_on_the_audit_topic(
    bus: MemoryBus, tmp_path: Path
) -> None:
    published = await _audited(bus)

    async def handle(event: StepEvent, call: StepCall) -> None:
        assert call.audit is not None, "the runtime must give the step an audit log"
        await call.audit.record("guardrail", "output", "pass")

    runner = StepRunner(
        StepService(name="guardrail", handle=handle),
        bus=bus,
        registry=WorkflowRegistry.load(repo_root() / "config" / "workflows"),
        settings=ConduitSettings(data_dir=tmp_path),
        processed=ProcessedEvents(tmp_path / "processed.sqlite3"),
    )
    event = StepEvent(envelope=_envelope())
    event.envelope.workflow.CopyFrom(
        WorkflowPosition(name="refund", version="1.0", step="check_answer", steps_taken=5)
    )
    event.request.text = "refund INV-1001"
    bus.subscribe([TOPICS.step("guardrail")], group="guardrail", handler=runner)
    await bus.publish(
        TOPICS.step("guardrail"), event.SerializeToString(), key="session-1", headers={}
    )
    await asyncio.wait_for(bus.idle(), 5)
    await asyncio.sleep(0.05)

    [message] = published
    record = AuditRecord.FromString(message.value)
    assert record.service == "guardrail", record
    assert record.step == "check_answer", f"the record must name the workflow step: {record}"
    assert record.request_id == event.envelope.request_id, record
