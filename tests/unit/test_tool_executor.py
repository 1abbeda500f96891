"""The tool-executor: gated, validated, exactly-once tool calls against the business database."""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.tool_executor.service import build
from shared.config import ConduitSettings, ConfigFileError, repo_root
from shared.contracts import Entity, StepEvent, ToolExchange
from shared.runtime import InvalidArguments, StepCall, StepService, ToolNotAllowed, UnknownTool
from tests.fixtures.audit import audit_trail
from tests.fixtures.tool_events import refund_event, request_calls

ACT = StepCall(workflow="refund", step_id="act")
LOOKUP_ORDER = StepCall(
    workflow="order_status",
    step_id="lookup_order",
    params={"call": {"tool": "lookup_order", "arguments": {"order_id": {"entity": "order_id"}}}},
)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ConduitSettings:
    monkeypatch.delenv("CONDUIT_TOOL_EXECUTOR_DB", raising=False)
    return ConduitSettings(data_dir=tmp_path / "var")


@pytest.fixture
def executor(settings: ConduitSettings) -> StepService:
    service = build(settings)
    service.warm_up()
    return service


def _payments(settings: ConduitSettings) -> list[sqlite3.Row]:
    with closing(sqlite3.connect(settings.data_dir / "tool-executor" / "business.sqlite3")) as db:
        db.row_factory = sqlite3.Row
        return db.execute("SELECT * FROM payments").fetchall()


def _forget_outcomes(settings: ConduitSettings) -> None:
    """Leaves every ledger row pending, as a crash between running and recording would."""
    with closing(sqlite3.connect(settings.data_dir / "tool-executor" / "ledger.sqlite3")) as db:
        db.execute("UPDATE ledger SET ok = NULL, result_json = ''")
        db.commit()


def _result(exchange: ToolExchange) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(exchange.result_json)
    return result


async def _round(
    executor: StepService, event: StepEvent, steps_taken: int, tool: str, **arguments: Any
) -> ToolExchange:
    """One agent round: the model asks for `tool`, the executor runs it."""
    event.envelope.workflow.steps_taken = steps_taken
    request_calls(event, (tool, arguments))
    await executor.handle(event, ACT)
    return event.tool_exchanges[-1]


async def _checked_event(executor: StepService) -> StepEvent:
    """A refund request whose policy check for INV-1001 has passed, asking for the refund."""
    event = refund_event()
    check = await _round(executor, event, 3, "check_refund_policy", invoice_id="INV-1001")
    assert check.ok, f"policy check failed: {check.error}"
    event.envelope.workflow.steps_taken = 6
    return request_calls(event, ("issue_refund", {"invoice_id": "INV-1001", "amount": 49.99}))


async def _handled_copy(executor: StepService, event: StepEvent, step: StepCall = ACT) -> StepEvent:
    copy = StepEvent()
    copy.CopyFrom(event)
    await executor.handle(copy, step)
    return copy


async def test_refund_sequence_looks_up_checks_and_pays_the_duplicate_charge(
    executor: StepService, settings: ConduitSettings
) -> None:
    event = refund_event()
    lookup = await _round(executor, event, 3, "lookup_invoice", invoice_id="INV-1001")
    assert lookup.ok, f"lookup failed: {lookup.error}"
    assert _result(lookup)["charged_count"] == 2, f"INV-1001 should be charged twice: {lookup}"

    check = await _round(executor, event, 6, "check_refund_policy", invoice_id="INV-1001")
    assert _result(check)["eligible"] is True, f"duplicate charge not eligible: {check}"
    assert _result(check)["refundable_amount"] == 49.99, f"wrong refundable amount: {check}"

    refund = await _round(executor, event, 9, "issue_refund", invoice_id="INV-1001", amount=49.99)
    assert refund.ok, f"refund failed: {refund.error}"
    assert (refund.at_step, refund.replayed) == (9, False), f"wrong exchange bookkeeping: {refund}"
    assert refund.idempotency_key == f"{event.envelope.request_id}:refund.act@9:c1", (
        f"unexpected idempotency key {refund.idempotency_key}"
    )
    payments = _payments(settings)
    assert [(p["invoice_id"], p["amount_cents"]) for p in payments] == [("INV-1001", 4999)], (
        f"expected one refund of 49.99 on INV-1001: {[dict(p) for p in payments]}"
    )


async def test_refund_is_paid_once_for_a_redelivered_call(
    executor: StepService, settings: ConduitSettings
) -> None:
    event = await _checked_event(executor)
    first = (await _handled_copy(executor, event)).tool_exchanges[-1]
    second = (await _handled_copy(executor, event)).tool_exchanges[-1]
    assert len(_payments(settings)) == 1, "a redelivered refund paid twice"
    assert (first.replayed, second.replayed) == (False, True), "redelivery was not replayed"
    assert second.result_json == first.result_json, "the replay returned a different result"


async def test_refund_is_not_paid_twice_when_the_ledger_missed_its_outcome(
    executor: StepService, settings: ConduitSettings
) -> None:
    event = await _checked_event(executor)
    first = (await _handled_copy(executor, event)).tool_exchanges[-1]
    _forget_outcomes(settings)
    second = (await _handled_copy(executor, event)).tool_exchanges[-1]
    assert len(_payments(settings)) == 1, "a rerun after a crash paid again"
    assert _result(second)["payment_id"] == _result(first)["payment_id"], (
        "the rerun did not find the payment it had made"
    )


async def test_a_new_refund_call_cannot_pay_beyond_the_policy(
    executor: StepService, settings: ConduitSettings
) -> None:
    event = await _checked_event(executor)
    await executor.handle(event, ACT)
    again = await _round(executor, event, 9, "issue_refund", invoice_id="INV-1001", amount=49.99)
    assert not again.ok, "a second refund call with a new key was paid"
    assert again.error.code == "REFUND_NOT_ALLOWED", f"wrong refusal: {again.error}"
    assert len(_payments(settings)) == 1, "the policy let a second refund through"


async def test_refund_without_a_policy_check_fails_its_precondition_and_pays_nothing(
    executor: StepService, settings: ConduitSettings
) -> None:
    event = refund_event()
    refund = await _round(executor, event, 3, "issue_refund", invoice_id="INV-1001", amount=49.99)
    assert not refund.ok, "a refund ran without a policy check"
    assert refund.error.code == "PRECONDITION_FAILED", f"wrong error: {refund.error}"
    assert "check_refund_policy" in refund.error.message, refund.error.message
    assert _payments(settings) == [], "money moved without a policy check"


async def test_refund_after_an_ineligible_check_fails_its_precondition(
    executor: StepService, settings: ConduitSettings
) -> None:
    event = refund_event(invoice_ids=["INV-1002"])
    check = await _round(executor, event, 3, "check_refund_policy", invoice_id="INV-1002")
    assert _result(check)["eligible"] is False, f"a single charge was eligible: {check}"
    refund = await _round(executor, event, 6, "issue_refund", invoice_id="INV-1002", amount=19.99)
    assert refund.error.code == "PRECONDITION_FAILED", f"wrong outcome: {refund}"
    assert _payments(settings) == [], "an ineligible invoice was refunded"


async def test_an_argument_value_the_request_did_not_produce_fails_its_precondition(
    executor: StepService,
) -> None:
    event = refund_event(invoice_ids=["INV-1001"])
    lookup = await _round(executor, event, 3, "lookup_invoice", invoice_id="INV-1003")
    assert lookup.error.code == "PRECONDITION_FAILED", f"an invented invoice id ran: {lookup}"


async def test_a_failed_call_stops_the_round(executor: StepService) -> None:
    event = request_calls(
        refund_event(),
        ("issue_refund", {"invoice_id": "INV-1001", "amount": 49.99}),
        ("lookup_invoice", {"invoice_id": "INV-1001"}),
    )
    await executor.handle(event, ACT)
    assert [x.call.tool for x in event.tool_exchanges] == ["issue_refund"], (
        "calls after a failed one still ran"
    )


async def test_a_business_failure_is_a_failed_exchange(executor: StepService) -> None:
    event = refund_event(invoice_ids=["INV-9999"])
    lookup = await _round(executor, event, 3, "lookup_invoice", invoice_id="INV-9999")
    assert (lookup.ok, lookup.error.code) == (False, "INVOICE_NOT_FOUND"), f"got {lookup}"


@pytest.mark.parametrize(
    ("invoice_id", "reason"),
    [("INV-1003", "refund window"), ("INV-1004", "automatic limit"), ("INV-1005", "void")],
)
async def test_policy_refuses_what_it_does_not_cover(
    executor: StepService, invoice_id: str, reason: str
) -> None:
    event = refund_event(invoice_ids=[invoice_id])
    check = await _round(executor, event, 3, "check_refund_policy", invoice_id=invoice_id)
    result = _result(check)
    assert result["eligible"] is False, f"{invoice_id} should not be refundable: {result}"
    assert reason in result["reason"], f"{invoice_id}: unexpected reason {result['reason']!r}"


async def test_unknown_tool_raises_unknown_tool(executor: StepService) -> None:
    event = request_calls(refund_event(), ("delete_invoice", {"invoice_id": "INV-1001"}))
    with pytest.raises(UnknownTool, match="delete_invoice"):
        await executor.handle(event, ACT)


async def test_bad_arguments_raise_invalid_arguments_naming_tool_and_field(
    executor: StepService,
) -> None:
    event = request_calls(refund_event(), ("lookup_invoice", {"invoice_id": 1001}))
    with pytest.raises(InvalidArguments, match=r"lookup_invoice.*invoice_id"):
        await executor.handle(event, ACT)


async def test_a_role_without_permission_raises_tool_not_allowed(executor: StepService) -> None:
    event = request_calls(
        refund_event(roles=["guest"]), ("lookup_invoice", {"invoice_id": "INV-1001"})
    )
    with pytest.raises(ToolNotAllowed, match="lookup_invoice"):
        await executor.handle(event, ACT)


async def test_a_rejected_call_stops_the_step_before_any_call_runs(
    executor: StepService, settings: ConduitSettings
) -> None:
    event = await _checked_event(executor)
    event.model_output.tool_calls.add(call_id="c2", tool="delete_invoice", arguments_json="{}")
    with pytest.raises(UnknownTool):
        await executor.handle(event, ACT)
    assert _payments(settings) == [], "a refund ran in a step that was then rejected"


async def test_a_reused_key_with_other_arguments_raises_invalid_arguments(
    executor: StepService,
) -> None:
    event = refund_event(invoice_ids=["INV-1001", "INV-1002"])
    await _handled_copy(
        executor, request_calls(event, ("lookup_invoice", {"invoice_id": "INV-1001"}))
    )
    request_calls(event, ("lookup_invoice", {"invoice_id": "INV-1002"}))
    with pytest.raises(InvalidArguments, match="idempotency key"):
        await executor.handle(event, ACT)


async def test_fixed_call_looks_up_the_order_of_the_extracted_entity(
    executor: StepService,
) -> None:
    event = refund_event(invoice_ids=[])
    event.intent.entities.append(Entity(kind="order_id", value="ORD-5001"))
    await executor.handle(event, LOOKUP_ORDER)
    [lookup] = event.tool_exchanges
    assert lookup.ok, f"order lookup failed: {lookup.error}"
    assert _result(lookup)["tracking_number"], f"shipped order has no tracking number: {lookup}"


async def test_fixed_call_without_the_entity_fails_its_precondition(
    executor: StepService,
) -> None:
    event = refund_event(invoice_ids=[])
    await executor.handle(event, LOOKUP_ORDER)
    [lookup] = event.tool_exchanges
    assert lookup.error.code == "PRECONDITION_FAILED", f"expected a precondition failure: {lookup}"
    assert "order_id" in lookup.error.message, lookup.error.message


def _config_with(tmp_path: Path, tool: str, **changes: Any) -> Path:
    config = tmp_path / "config"
    shutil.copytree(repo_root() / "config", config)
    data = yaml.safe_load((config / "tools.yaml").read_text(encoding="utf-8"))
    data["tools"][tool].update(changes)
    (config / "tools.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return config


async def test_an_interrupted_call_unsafe_to_retry_reports_an_unknown_outcome(
    tmp_path: Path, settings: ConduitSettings
) -> None:
    config = _config_with(tmp_path, "issue_refund", safe_to_retry=False)
    executor = build(settings.model_copy(update={"config_dir": config}))
    event = await _checked_event(executor)
    await _handled_copy(executor, event)
    _forget_outcomes(settings)
    retried = (await _handled_copy(executor, event)).tool_exchanges[-1]
    assert retried.error.code == "OUTCOME_UNKNOWN", f"an unsafe call was rerun: {retried}"
    assert len(_payments(settings)) == 1, "an unsafe call ran twice"


def test_a_handler_outside_the_allow_list_is_refused_at_build(
    tmp_path: Path, settings: ConduitSettings
) -> None:
    config = _config_with(tmp_path, "lookup_order", handler="os.system")
    with pytest.raises(ConfigFileError, match=r"tools\.lookup_order\.handler"):
        build(settings.model_copy(update={"config_dir": config}))


# --- the audit trail -----------------------------------------------------------------------


async def test_a_tool_call_is_audited_with_outcome_arguments_and_idempotency_key(
    executor: StepService,
) -> None:
    event = request_calls(refund_event(), ("lookup_invoice", {"invoice_id": "INV-1001"}))
    async with audit_trail() as trail:
        await executor.handle(event, trail.audited(event, ACT, service="tool-executor"))
        [record] = await trail.records()
    [lookup] = event.tool_exchanges
    assert (record.kind, record.subject, record.outcome) == ("tool_call", "lookup_invoice", "ok"), (
        f"the call was audited wrongly: {record}"
    )
    assert record.detail == '{"invoice_id":"INV-1001"}', f"arguments not recorded: {record.detail}"
    assert record.idempotency_key == lookup.idempotency_key, "the record must carry the call's key"


async def test_a_replayed_call_is_audited_again_under_the_same_audit_id(
    executor: StepService,
) -> None:
    event = await _checked_event(executor)
    async with audit_trail() as trail:
        await _handled_copy(executor, event, trail.audited(event, ACT, service="tool-executor"))
        await _handled_copy(executor, event, trail.audited(event, ACT, service="tool-executor"))
        first, again = await trail.records()
    assert first.audit_id == again.audit_id, "a redelivered call must repeat its audit id"
    assert (first.detail.startswith("replayed"), again.detail.startswith("replayed")) == (
        False,
        True,
    ), f"only the replay may say so: {first.detail!r}, {again.detail!r}"


async def test_a_failed_call_is_audited_with_its_error_code(executor: StepService) -> None:
    event = refund_event(invoice_ids=[])
    async with audit_trail() as trail:
        await executor.handle(event, trail.audited(event, LOOKUP_ORDER, service="tool-executor"))
        [record] = await trail.records()
    assert (record.subject, record.outcome) == ("lookup_order", "PRECONDITION_FAILED"), record
    assert "order_id" in record.detail, f"the failure's reason is missing: {record.detail}"


async def test_a_tool_refused_for_the_callers_roles_is_audited_as_a_refusal(
    executor: StepService,
) -> None:
    event = request_calls(
        refund_event(roles=["guest"]), ("lookup_invoice", {"invoice_id": "INV-1001"})
    )
    async with audit_trail() as trail:
        with pytest.raises(ToolNotAllowed):
            await executor.handle(event, trail.audited(event, ACT, service="tool-executor"))
        [record] = await trail.records()
    assert (record.kind, record.subject, record.outcome) == (
        "authorization",
        "lookup_invoice",
        "refused",
    ), f"the refusal was audited wrongly: {record}"
    assert list(record.principal.roles) == ["guest"], "the record must say who was refused"
