"""The guardrail step: `stage: input` bounds, redacts and screens the request for prompt
injection (`config/guardrails.yaml`), `stage: output` checks the answer. Example workflow step:

    check_answer:
      service: guardrail
      params: {stage: output, checks: [not_empty, no_pii, cites_sources]}
      next:
        - when: {verdict: handoff}
          to: handoff
        - to: respond
"""

from __future__ import annotations

import asyncio

from opentelemetry import trace

from services.guardrail.input_stage import guard_input
from services.guardrail.output_checks import CHECKS, Check, guard_output
from services.guardrail.settings import GuardrailSettings
from shared.config import ConduitSettings
from shared.contracts import GuardrailReport, StepEvent, Verdict
from shared.injection import InjectionScreen
from shared.runtime import StepCall, StepError, StepHandler, StepMisconfigured, StepService
from shared.runtime.audit import GUARDRAIL


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
    """The step handler. Example:
    `await Guardrail(GuardrailSettings(), InjectionScreen.from_config(config_dir)).handle(...)`.
    """

    def __init__(self, settings: GuardrailSettings, screen: InjectionScreen) -> None:
        self._settings = settings
        self._screen = screen

    async def handle(self, event: StepEvent, call: StepCall) -> None:
        stage = call.params.get("stage")
        if stage == "input":
            report = await asyncio.to_thread(
                guard_input,
                event.request,
                max_chars=self._settings.max_input_chars,
                screen=self._screen,
            )
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
        await _audit_decision(call, report)


def build(settings: ConduitSettings, guardrail: GuardrailSettings | None = None) -> StepService:
    screen = InjectionScreen.from_config(settings.config_dir)
    handler = Guardrail(guardrail or GuardrailSettings(), screen)
    return StepService(
        name="guardrail",
        handle=_audit_refusals(handler.handle),
        warm_up=screen.warm_up,
        consumes_ingest=True,
    )


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


def _audit_refusals(handle: StepHandler) -> StepHandler:
    """A request refused outright (too large, empty...) is a guardrail decision too."""

    async def audited(event: StepEvent, call: StepCall) -> None:
        try:
            await handle(event, call)
        except StepMisconfigured:
            raise
        except StepError as refusal:
            if call.audit is not None:
                stage = str(call.params.get("stage", ""))
                await call.audit.record(GUARDRAIL, stage, "refused", detail=refusal.message)
            raise

    return audited


async def _audit_decision(call: StepCall, report: GuardrailReport) -> None:
    """The decision on the audit trail: `redacted` when the input passed once redacted."""
    if call.audit is None:
        return
    outcome = Verdict.Name(report.verdict).removeprefix("VERDICT_").lower()
    reasons = list(report.findings)
    if report.redactions:
        reasons.insert(0, "redacted " + ", ".join(f"{r.count} {r.kind}" for r in report.redactions))
        if report.verdict == Verdict.VERDICT_PASS:
            outcome = "redacted"
    await call.audit.record(GUARDRAIL, report.stage, outcome, detail="; ".join(reasons))
