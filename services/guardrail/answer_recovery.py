"""What the output stage does with an answer: deliver it, have it written again, replace it
with the template's answer, or hand the request to a person. A wrong answer is never
delivered. Step params (defaults in brackets):

    check_answer:
      service: guardrail
      params: {stage: output, checks: [...], regenerate: 1, template: true}  # [0, true]
      next:
        - when: {verdict: pass}
          to: respond
        - when: {verdict: regenerate}   # required when `regenerate` > 0
          to: draft
        - to: handoff

1. Every check passes: PASS, answered by the model (or "regenerated").
2. Else, while fewer than `regenerate` answers were written again in this request and the
   workflow's `max_steps` leaves room for the prompt, the model and this check once more:
   REGENERATE with the findings, which the prompt-builder puts in the next prompt.
3. Else, with `template`, the prompt's `fallback_answer` (rendered by the prompt-builder
   from the tool results and sources) if it passes the same checks: PASS, answered by
   "template", the model's findings kept on the report.
4. Else HANDOFF, with every finding as the reason (a failed template answer's too).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.guardrail.output_checks import Check, findings_of
from shared.contracts import GuardrailReport, ModelOutput, StepEvent, Verdict

# A new answer takes the prompt, the model and the check again.
STEPS_TO_REGENERATE = 3
MODEL = "model"
REGENERATED = "regenerated"
TEMPLATE = "template"


class RecoveryMisconfigured(ValueError):
    """The step's `regenerate` or `template` param is not of the right type."""


@dataclass(frozen=True, kw_only=True)
class Recovery:
    regenerate: int = 0
    template: bool = True

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Recovery:
        regenerate, template = params.get("regenerate", 0), params.get("template", True)
        if isinstance(regenerate, bool) or not isinstance(regenerate, int) or regenerate < 0:
            raise RecoveryMisconfigured("`regenerate` must be a whole number of tries, 0 or more")
        if not isinstance(template, bool):
            raise RecoveryMisconfigured("`template` must be true or false")
        return cls(regenerate=regenerate, template=template)


def check_answer(
    event: StepEvent, checks: Sequence[Check], recovery: Recovery, *, steps_left: int | None = None
) -> GuardrailReport:
    """The output stage's decision; on a pass by template, `event.model_output` holds the
    template's answer afterwards."""
    regenerated = event.output_guard.regenerations if event.output_guard.stage == "output" else 0
    report = GuardrailReport(stage="output", regenerations=regenerated)
    findings = findings_of(event, checks)
    if not findings:
        report.verdict = Verdict.VERDICT_PASS
        report.answered_by = REGENERATED if regenerated else MODEL
        return report
    report.findings.extend(findings)
    room = steps_left is None or steps_left >= STEPS_TO_REGENERATE
    if regenerated < recovery.regenerate and room:
        report.verdict = Verdict.VERDICT_REGENERATE
        report.regenerations = regenerated + 1
        return report
    if recovery.template and event.prompt.fallback_answer:
        template_findings = _template_findings(event, checks)
        if not template_findings:
            _answer_by_template(event)
            report.verdict = Verdict.VERDICT_PASS
            report.answered_by = TEMPLATE
            return report
        report.findings.append("the template's answer failed too: " + "; ".join(template_findings))
    report.verdict = Verdict.VERDICT_HANDOFF
    return report


def _template_output(event: StepEvent) -> ModelOutput:
    output = ModelOutput()
    output.CopyFrom(event.model_output)
    output.text = event.prompt.fallback_answer
    output.finish_reason = "stop"
    del output.sources[:]
    output.sources.extend(event.prompt.fallback_sources)
    return output


def _template_findings(event: StepEvent, checks: Sequence[Check]) -> list[str]:
    candidate = StepEvent()
    candidate.CopyFrom(event)
    candidate.model_output.CopyFrom(_template_output(event))
    return findings_of(candidate, checks)


def _answer_by_template(event: StepEvent) -> None:
    event.model_output.CopyFrom(_template_output(event))
