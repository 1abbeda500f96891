"""The guardrail step: `stage: input` redacts and bounds the request, `stage: output`
checks the answer. Example workflow step:

    check_answer:
      service: guardrail
      params: {stage: output, checks: [not_empty, no_pii, cites_sources]}
      next:
        - when: {verdict: handoff}
          to: handoff
        - to: respond
"""

from __future__ import annotations

from opentelemetry import trace

from services.guardrail.input_stage import guard_input
from services.guardrail.output_checks import CHECKS, Check, guard_output
from services.guardrail.settings import GuardrailSettings
from shared.config import ConduitSettings
from shared.contracts import GuardrailReport, StepEvent, Verdict
from shared.runtime import StepCall, StepMisconfigured, StepService


def _checks(call: StepCall) -> list[Check]:
    names = call.params.get("checks", list(CHECKS))
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise StepMisconfigured(
            f"{call.workflow}.{call.step_id}: guardrail `checks` must be a list of names"
        )
    unknown = [name for name in names if name not in CHECKS]
    if unknown:
        raise StepMisconfigured(
            f"{call.workflow}.{call.step_id}: unknown guardrail checks {unknown}; "
            f"known: {sorted(CHECKS)}"
        )
    return [CHECKS[name] for name in names]


class Guardrail:
    """The step handler. Example: `await Guardrail(GuardrailSettings()).handle(event, call)`."""

    def __init__(self, settings: GuardrailSettings) -> None:
        self._settings = settings

    async def handle(self, event: StepEvent, call: StepCall) -> None:
        stage = call.params.get("stage")
        if stage == "input":
            report = guard_input(event.request, max_chars=self._settings.max_input_chars)
            event.input_guard.CopyFrom(report)
        elif stage == "output":
            report = guard_output(event, _checks(call))
            event.output_guard.CopyFrom(report)
        else:
            raise StepMisconfigured(
                f"{call.workflow}.{call.step_id}: guardrail `stage` must be 'input' or 'output', "
                f"not {stage!r}"
            )
        _record_decision(report)


def build(settings: ConduitSettings, guardrail: GuardrailSettings | None = None) -> StepService:
    handler = Guardrail(guardrail or GuardrailSettings())
    return StepService(name="guardrail", handle=handler.handle, consumes_ingest=True)


def _record_decision(report: GuardrailReport) -> None:
    """The decision on the step's span: verdict, redaction counts, findings (which name
    kinds of data and amounts, never the personal data itself)."""
    trace.get_current_span().add_event(
        "guardrail decision",
        {
            "conduit.guardrail.stage": report.stage,
            "conduit.guardrail.verdict": Verdict.Name(report.verdict),
            "conduit.guardrail.redactions": [f"{r.kind}:{r.count}" for r in report.redactions],
            "conduit.guardrail.findings": list(report.findings),
        },
    )
