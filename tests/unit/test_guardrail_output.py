import json
from typing import Any

import pytest

from services.guardrail.service import build
from shared.config import ConduitSettings
from shared.contracts import (
    Chunk,
    ModelOutput,
    RetrievalResult,
    StepEvent,
    ToolCall,
    ToolExchange,
    Verdict,
)
from shared.runtime import StepCall, StepMisconfigured
from tests.fixtures.audit import audit_trail

GUARDRAIL = build(ConduitSettings())
POLICY_TEXT = "Refunds are possible within 30 days of purchase."


def _call(*checks: str) -> StepCall:
    params: dict[str, Any] = {"stage": "output"}
    if checks:
        params["checks"] = list(checks)
    return StepCall(workflow="w", step_id="s", params=params)


def _exchange(
    tool: str, arguments: dict[str, Any], result: dict[str, Any], *, ok: bool = True
) -> ToolExchange:
    return ToolExchange(
        call=ToolCall(call_id=f"{tool}-1", tool=tool, arguments_json=json.dumps(arguments)),
        ok=ok,
        result_json=json.dumps(result) if ok else "",
    )


def _policy(invoice_id: str, refundable: float, *, ok: bool = True) -> ToolExchange:
    return _exchange(
        "check_refund_policy",
        {"invoice_id": invoice_id},
        {"invoice_id": invoice_id, "eligible": True, "refundable_amount": refundable},
        ok=ok,
    )


def _refund(invoice_id: str, amount: float) -> ToolExchange:
    return _exchange(
        "issue_refund",
        {"invoice_id": invoice_id},
        {"invoice_id": invoice_id, "refund_id": "R-1", "amount": amount},
    )


def _event(
    text: str = "Refunds are possible within 30 days of purchase.",
    sources: tuple[str, ...] = ("refund-policy#1",),
    retrieved: tuple[str, ...] = ("refund-policy#1", "refund-policy#2"),
    exchanges: tuple[ToolExchange, ...] = (),
) -> StepEvent:
    return StepEvent(
        retrieval=RetrievalResult(
            query="refund",
            chunks=[Chunk(source_id=source, text=POLICY_TEXT) for source in retrieved],
        ),
        model_output=ModelOutput(text=text, sources=list(sources)),
        tool_exchanges=list(exchanges),
    )


async def _guard(event: StepEvent, *checks: str) -> list[str]:
    await GUARDRAIL.handle(event, _call(*checks))
    return list(event.output_guard.findings)


async def test_a_grounded_clean_answer_passes_every_check() -> None:
    event = _event()

    findings = await _guard(event)

    assert findings == [], "a clean cited answer must raise no findings"
    assert event.output_guard.stage == "output"
    assert event.output_guard.verdict == Verdict.VERDICT_PASS


async def test_each_failed_check_hands_off_with_its_own_finding() -> None:
    event = _event(text="Mail ann@example.com, we refunded $500.", sources=())

    findings = await _guard(event)

    assert event.output_guard.verdict == Verdict.VERDICT_HANDOFF
    # personal data, no citation, an amount without a policy check and in no tool result,
    # a sentence no source says, a refund claimed that no call made
    assert len(findings) == 6, f"expected one finding per failed check, got {findings}"


async def test_only_the_checks_named_in_params_run() -> None:
    event = _event(text="Mail ann@example.com", sources=())

    findings = await _guard(event, "not_empty")

    assert findings == [], "no_pii and cites_sources were not asked for"
    assert event.output_guard.verdict == Verdict.VERDICT_PASS


async def test_unknown_check_is_a_misconfigured_step() -> None:
    with pytest.raises(StepMisconfigured, match="no_swearing"):
        await GUARDRAIL.handle(_event(), _call("not_empty", "no_swearing"))


async def test_checks_that_are_not_a_list_are_a_misconfigured_step() -> None:
    call = StepCall(workflow="w", step_id="s", params={"stage": "output", "checks": "no_pii"})

    with pytest.raises(StepMisconfigured):
        await GUARDRAIL.handle(_event(), call)


@pytest.mark.parametrize("text", ["", "  \n"])
async def test_not_empty_fails_on_a_blank_answer(text: str) -> None:
    findings = await _guard(_event(text=text), "not_empty")

    assert findings == ["the answer is empty"]


async def test_no_pii_fails_without_repeating_the_personal_data() -> None:
    findings = await _guard(_event(text="Call 555-123-4567 or mail ann@example.com"), "no_pii")

    assert len(findings) == 1, findings
    assert "email" in findings[0], "the finding must name the kind found"
    assert "phone" in findings[0], "the finding must name the kind found"
    assert "ann@example.com" not in findings[0], "the finding must not leak the value"


async def test_no_pii_passes_placeholders_and_invoice_ids() -> None:
    findings = await _guard(_event(text="We emailed [EMAIL] about INV-1001."), "no_pii")

    assert findings == []


async def test_cites_sources_fails_when_retrieved_chunks_go_uncited() -> None:
    findings = await _guard(_event(sources=()), "cites_sources")

    assert len(findings) == 1, "an answer over retrieved chunks must cite them"


async def test_cites_sources_fails_on_a_source_that_was_not_retrieved() -> None:
    findings = await _guard(_event(sources=("refund-policy#1", "made-up#9")), "cites_sources")

    assert len(findings) == 1, findings
    assert "made-up#9" in findings[0], "the finding must name the invented source"


async def test_cites_sources_passes_when_nothing_was_retrieved() -> None:
    findings = await _guard(_event(sources=(), retrieved=()), "cites_sources")

    assert findings == [], "without retrieval there is nothing to cite"


async def test_refund_within_the_policy_limit_passes() -> None:
    event = _event(
        text="I refunded $49.99 for INV-1001.",
        exchanges=(_policy("INV-1001", 49.99), _refund("INV-1001", 49.99)),
    )

    assert await _guard(event, "refund_within_policy") == []


async def test_refund_issued_above_the_policy_limit_fails() -> None:
    event = _event(
        text="Your refund is on its way.",
        exchanges=(_policy("INV-1001", 20.00), _refund("INV-1001", 49.99)),
    )

    findings = await _guard(event, "refund_within_policy")

    assert len(findings) == 1, findings
    assert "49.99" in findings[0], "the finding must name the refunded amount"
    assert "INV-1001" in findings[0], "the finding must name the invoice"


async def test_refund_amount_in_the_arguments_is_checked_too() -> None:
    refund = _exchange("issue_refund", {"invoice_id": "INV-1001", "amount": 80}, {"ok": True})
    event = _event(text="Done.", exchanges=(_policy("INV-1001", 20.00), refund))

    assert len(await _guard(event, "refund_within_policy")) == 1


async def test_refund_issued_without_a_policy_check_fails() -> None:
    event = _event(text="Your refund is on its way.", exchanges=(_refund("INV-1001", 5.00),))

    findings = await _guard(event, "refund_within_policy")

    assert len(findings) == 1, findings
    assert "policy" in findings[0], findings


async def test_a_failed_policy_check_does_not_authorise_a_refund() -> None:
    event = _event(
        text="Refunded.",
        exchanges=(_policy("INV-1001", 100.00, ok=False), _refund("INV-1001", 5.00)),
    )

    assert len(await _guard(event, "refund_within_policy")) == 1


async def test_the_latest_policy_check_sets_the_limit() -> None:
    event = _event(
        text="Refunded.",
        exchanges=(
            _policy("INV-1001", 100.00),
            _policy("INV-1001", 10.00),
            _refund("INV-1001", 50.00),
        ),
    )

    assert len(await _guard(event, "refund_within_policy")) == 1


async def test_an_ineligible_invoice_allows_no_refund() -> None:
    policy = _exchange(
        "check_refund_policy",
        {"invoice_id": "INV-1001"},
        {"invoice_id": "INV-1001", "eligible": False, "reason": "outside the 30-day window"},
    )
    event = _event(text="Refunded.", exchanges=(policy, _refund("INV-1001", 1.00)))

    assert len(await _guard(event, "refund_within_policy")) == 1


async def test_answer_promising_more_than_the_limit_fails() -> None:
    event = _event(
        text="You will get $1,200.00 back for INV-1001.",
        exchanges=(_policy("INV-1001", 49.99),),
    )

    findings = await _guard(event, "refund_within_policy")

    assert len(findings) == 1, findings
    assert "$1,200.00" in findings[0], "the finding must quote the amount as written"


async def test_answer_amount_is_held_to_the_invoice_it_names() -> None:
    event = _event(
        text="INV-2002 can be refunded 80 USD.",
        exchanges=(_policy("INV-1001", 100.00), _policy("INV-2002", 30.00)),
    )

    assert len(await _guard(event, "refund_within_policy")) == 1


async def test_answer_amount_without_any_policy_check_fails() -> None:
    findings = await _guard(_event(text="We can refund €20 today."), "refund_within_policy")

    assert len(findings) == 1, "refund amounts need a passing policy check"


async def test_an_amount_in_a_refusal_is_no_promise() -> None:
    event = _event(
        text="I cannot refund invoice INV-1004 of 200.0 USD: it exceeds the limit of 100.0 USD.",
        exchanges=(_policy("INV-1004", 0.0),),
    )

    assert await _guard(event, "refund_within_policy") == []


@pytest.mark.parametrize(
    "answer",
    [
        "Invoice INV-1005 is void. You can only refund refundable items.",
        "INV-1005 cannot be refunded. Refunds usually appear within 5 to 7 business days.",
        "We may be able to refund INV-1005 later.",
    ],
)
async def test_a_refund_the_policy_refused_is_spoken_of_only_to_refuse_it(answer: str) -> None:
    event = _event(text=answer, exchanges=(_policy("INV-1005", 0.0),))

    findings = await _guard(event, "refund_within_policy")

    assert len(findings) == 1, f"{answer!r} passed, though the policy refused the refund"
    assert "without refusing it" in findings[0], findings


async def test_a_refusal_of_a_refund_the_policy_refused_passes() -> None:
    text = "Invoice INV-1005 is void, so it cannot be refunded. Is there anything else?"
    event = _event(text=text, exchanges=(_policy("INV-1005", 0.0),))

    assert await _guard(event, "refund_within_policy") == []


async def test_an_amount_in_a_sentence_that_refuses_and_claims_a_refund_is_checked() -> None:
    event = _event(
        text="I cannot refund all of it, but I have refunded 200.0 USD for INV-1004.",
        exchanges=(_policy("INV-1004", 100.0),),
    )

    assert len(await _guard(event, "refund_within_policy")) == 1


async def test_answer_without_amounts_or_refunds_passes_the_refund_check() -> None:
    findings = await _guard(_event(text="Invoice INV-1001 was paid."), "refund_within_policy")

    assert findings == []


@pytest.mark.parametrize(
    "answer",
    [
        "I have refunded the duplicate charge on your invoice.",
        "Your refund has been issued.",
        "The duplicate charge has been refunded to your card.",
        "We reimbursed you for the second charge.",
    ],
)
async def test_an_answer_claiming_a_refund_that_was_never_issued_is_refused(answer: str) -> None:
    findings = await _guard(_event(text=answer), "claims_match_actions")

    assert findings, f"{answer!r} claims a refund with none issued, but passed"


async def test_an_answer_explaining_why_no_refund_was_made_passes_the_claims_check() -> None:
    text = "Invoice INV-1003 is outside the refund window, so it cannot be refunded."

    assert await _guard(_event(text=text), "claims_match_actions") == []


async def test_a_refund_claim_backed_by_a_completed_refund_passes() -> None:
    event = _event(text="I have refunded your invoice.", exchanges=(_refund("INV-1001", 49.99),))

    assert await _guard(event, "claims_match_actions") == []


async def test_a_handed_off_answer_is_audited_with_the_findings_as_reason() -> None:
    event = _event(text="   ")
    async with audit_trail() as trail:
        await GUARDRAIL.handle(event, trail.audited(event, _call("not_empty"), service="guardrail"))
        [record] = await trail.records()
    assert (record.kind, record.subject, record.outcome) == ("guardrail", "output", "handoff"), (
        f"the decision was audited wrongly: {record}"
    )
    assert record.detail == "the answer is empty", f"the reason is missing: {record.detail!r}"


async def test_a_passing_answer_is_audited_as_a_pass() -> None:
    event = _event()
    async with audit_trail() as trail:
        await GUARDRAIL.handle(event, trail.audited(event, _call(), service="guardrail"))
        [record] = await trail.records()
    assert (record.subject, record.outcome, record.detail) == (
        "output",
        "pass",
        "answered by model",
    ), record
