"""The output stage's ladder: deliver, write again, the template's answer, or a person."""

from __future__ import annotations

import pytest

from services.guardrail.answer_recovery import (
    Recovery,
    RecoveryMisconfigured,
    check_answer,
)
from services.guardrail.output_checks import Check
from shared.contracts import ModelOutput, StepEvent, Verdict

TEMPLATE_ANSWER = "Your order ORD-5001 is shipped."


def _mentions_delivered(event: StepEvent) -> str | None:
    return "a status no tool result has" if "delivered" in event.model_output.text else None


CHECKS: list[Check] = [_mentions_delivered]


def _event(text: str, *, fallback: str = TEMPLATE_ANSWER, regenerations: int = 0) -> StepEvent:
    event = StepEvent(model_output=ModelOutput(text=text, sources=["a#1"], finish_reason="stop"))
    event.prompt.fallback_answer = fallback
    event.prompt.fallback_sources.append("b#2")
    if regenerations:
        event.output_guard.stage = "output"
        event.output_guard.regenerations = regenerations
    return event


def test_an_answer_that_passes_is_delivered_as_the_models() -> None:
    report = check_answer(_event("It is shipped."), CHECKS, Recovery(regenerate=1))

    assert (report.verdict, report.answered_by) == (Verdict.VERDICT_PASS, "model"), report


def test_a_failing_answer_is_written_again_with_its_findings_while_tries_are_left() -> None:
    report = check_answer(_event("It was delivered."), CHECKS, Recovery(regenerate=1))

    assert report.verdict == Verdict.VERDICT_REGENERATE, report
    assert list(report.findings) == ["a status no tool result has"], report
    assert report.regenerations == 1, report


def test_without_room_in_the_step_limit_the_template_answers_at_once() -> None:
    event = _event("It was delivered.")

    report = check_answer(event, CHECKS, Recovery(regenerate=1), steps_left=2)

    assert (report.verdict, report.answered_by) == (Verdict.VERDICT_PASS, "template"), (
        "a regeneration the workflow's max_steps cannot finish must not be started"
    )


def test_an_answer_that_passes_after_being_written_again_says_so() -> None:
    report = check_answer(_event("It is shipped.", regenerations=1), CHECKS, Recovery(regenerate=1))

    assert (report.verdict, report.answered_by) == (Verdict.VERDICT_PASS, "regenerated"), report


def test_when_tries_are_spent_the_templates_answer_replaces_the_models() -> None:
    event = _event("It was delivered.", regenerations=1)

    report = check_answer(event, CHECKS, Recovery(regenerate=1))

    assert (report.verdict, report.answered_by) == (Verdict.VERDICT_PASS, "template"), report
    assert event.model_output.text == TEMPLATE_ANSWER, "the template's answer was not delivered"
    assert list(event.model_output.sources) == ["b#2"], "the template's citations were lost"
    assert list(report.findings) == ["a status no tool result has"], "why the model failed"


def test_a_template_answer_that_fails_the_checks_too_goes_to_a_person() -> None:
    event = _event("It was delivered.", fallback="It was delivered yesterday.")

    report = check_answer(event, CHECKS, Recovery())

    assert report.verdict == Verdict.VERDICT_HANDOFF, report
    assert "the template's answer failed too" in report.findings[-1], report
    assert event.model_output.text == "It was delivered.", "a failed template answer was kept"


def test_without_a_fitting_template_answer_the_request_goes_to_a_person_saying_why() -> None:
    report = check_answer(_event("It was delivered.", fallback=""), CHECKS, Recovery())

    assert report.verdict == Verdict.VERDICT_HANDOFF, report
    assert list(report.findings) == ["a status no tool result has"], report


def test_a_step_may_refuse_template_answers() -> None:
    report = check_answer(_event("It was delivered."), CHECKS, Recovery(template=False))

    assert report.verdict == Verdict.VERDICT_HANDOFF, report


@pytest.mark.parametrize(
    "params", [{"regenerate": -1}, {"regenerate": True}, {"regenerate": "1"}, {"template": 1}]
)
def test_recovery_params_of_the_wrong_type_are_refused(params: dict[str, object]) -> None:
    with pytest.raises(RecoveryMisconfigured):
        Recovery.from_params(params)
