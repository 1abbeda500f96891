import pytest

from services.guardrail.service import build
from services.guardrail.settings import GuardrailSettings
from shared.config import ConduitSettings
from shared.contracts import AuditRecord, Redaction, StepEvent, Turn, UserRequest, Verdict
from shared.runtime import (
    InputRejected,
    InputTooLarge,
    StepCall,
    StepMisconfigured,
    StepService,
)
from tests.fixtures.audit import audit_trail

INPUT = StepCall(workflow="w", step_id="s", params={"stage": "input"})


def _guardrail(max_input_chars: int = 4000) -> StepService:
    return build(ConduitSettings(), GuardrailSettings(max_input_chars=max_input_chars))


def _event(text: str, history: tuple[str, ...] = ()) -> StepEvent:
    turns = [Turn(role="user", content=content) for content in history]
    return StepEvent(request=UserRequest(text=text, history=turns, channel="chat"))


def _redactions(event: StepEvent) -> dict[str, int]:
    return {r.kind: r.count for r in event.input_guard.redactions}


def test_guardrail_consumes_the_ingest_topic_under_its_own_name() -> None:
    service = _guardrail()

    assert service.name == "guardrail"
    assert service.consumes_ingest, "the entry step reads the ingest topic"


async def test_oversize_input_is_rejected_naming_size_and_limit() -> None:
    with pytest.raises(InputTooLarge) as raised:
        await _guardrail(max_input_chars=10).handle(_event("x" * 11), INPUT)

    assert "11" in raised.value.message, "the error must name the input size"
    assert "10" in raised.value.message, "the error must name the limit"


async def test_input_of_exactly_the_limit_passes() -> None:
    event = _event("x" * 10)

    await _guardrail(max_input_chars=10).handle(event, INPUT)

    assert event.input_guard.verdict == Verdict.VERDICT_PASS


async def test_default_limit_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDUIT_GUARDRAIL_MAX_INPUT_CHARS", "5")

    with pytest.raises(InputTooLarge):
        await build(ConduitSettings()).handle(_event("123456"), INPUT)


def test_default_limit_is_4000_characters() -> None:
    assert GuardrailSettings().max_input_chars == 4000


@pytest.mark.parametrize("text", ["", "   \n\t"])
async def test_empty_input_is_rejected(text: str) -> None:
    with pytest.raises(InputRejected):
        await _guardrail().handle(_event(text), INPUT)


async def test_email_card_and_phone_are_redacted_in_the_request_text() -> None:
    event = _event("I'm ann@example.com, card 4111 1111 1111 1111, phone +44 20 7946 0958")

    await _guardrail().handle(event, INPUT)

    assert event.request.text == "I'm [EMAIL], card [CARD], phone [PHONE]", event.request.text
    assert _redactions(event) == {"email": 1, "card_number": 1, "phone": 1}


async def test_every_history_turn_is_redacted_and_counted_with_the_text() -> None:
    event = _event(
        "refund INV-1001 to ann@example.com",
        history=("my mail is bob@example.com", "call 555-123-4567", "thanks"),
    )

    await _guardrail().handle(event, INPUT)

    assert [t.content for t in event.request.history] == [
        "my mail is [EMAIL]",
        "call [PHONE]",
        "thanks",
    ], "history turns must be redacted before any model sees them"
    assert _redactions(event) == {"email": 2, "phone": 1}


async def test_invoice_ids_amounts_and_luhn_invalid_digits_are_left_alone() -> None:
    text = "Refund INV-1001 (order ORD-5001) of $49.99, ref 4111 1111 1111 1112, on 2024-01-15"
    event = _event(text)

    await _guardrail().handle(event, INPUT)

    assert event.request.text == text, "non-personal identifiers must pass unchanged"
    assert list(event.input_guard.redactions) == [], "nothing was redacted"


async def test_input_report_names_the_stage_and_passes() -> None:
    event = _event("hello, call me at 555-123-4567")

    await _guardrail().handle(event, INPUT)

    assert event.input_guard.stage == "input"
    assert event.input_guard.verdict == Verdict.VERDICT_PASS
    assert list(event.input_guard.redactions) == [Redaction(kind="phone", count=1)]
    assert not event.HasField("output_guard"), "the input stage must not touch the output report"


@pytest.mark.parametrize("params", [{}, {"stage": "middle"}])
async def test_missing_or_unknown_stage_is_a_misconfigured_step(params: dict[str, str]) -> None:
    call = StepCall(workflow="w", step_id="s", params=params)

    with pytest.raises(StepMisconfigured):
        await _guardrail().handle(_event("hello"), call)


async def _audited(event: StepEvent, call: StepCall = INPUT) -> list[AuditRecord]:
    async with audit_trail() as trail:
        await _guardrail().handle(event, trail.audited(event, call, service="guardrail"))
        return await trail.records()


async def test_redactions_made_at_the_edge_are_reported_with_the_guardrails_own() -> None:
    event = _event("I'm [EMAIL], call 555-123-4567")
    event.request.redacted_at_edge.append(Redaction(kind="email", count=1))

    await _guardrail().handle(event, INPUT)

    assert event.request.text == "I'm [EMAIL], call [PHONE]", event.request.text
    assert _redactions(event) == {"email": 1, "phone": 1}, "the edge's redaction went missing"


async def test_a_redacted_input_is_audited_naming_kinds_never_values() -> None:
    [record] = await _audited(_event("I'm ann@example.com, card 4111 1111 1111 1111"))

    assert (record.kind, record.subject, record.outcome) == ("guardrail", "input", "redacted"), (
        f"the decision was audited wrongly: {record}"
    )
    assert record.detail == "redacted 1 card_number, 1 email", record.detail


async def test_a_clean_input_is_audited_as_a_pass() -> None:
    [record] = await _audited(_event("where is my order ORD-5001?"))

    assert (record.subject, record.outcome, record.detail) == ("input", "pass", ""), record


async def test_a_refused_input_is_audited_with_the_reason() -> None:
    async with audit_trail() as trail:
        event = _event("x" * 11)
        with pytest.raises(InputTooLarge):
            await _guardrail(max_input_chars=10).handle(
                event, trail.audited(event, INPUT, service="guardrail")
            )
        [record] = await trail.records()

    assert (record.subject, record.outcome) == ("input", "refused"), record
    assert "over the limit of 10" in record.detail, f"the reason is missing: {record.detail!r}"


async def test_a_misconfigured_step_is_no_guardrail_decision() -> None:
    call = StepCall(workflow="w", step_id="s", params={"stage": "middle"})
    async with audit_trail() as trail:
        event = _event("hello")
        with pytest.raises(StepMisconfigured):
            await _guardrail().handle(event, trail.audited(event, call, service="guardrail"))
        records = await trail.records()

    assert records == [], f"a configuration error was audited as a decision: {records}"
