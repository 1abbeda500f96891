"""The guardrail step: `stage: input` bounds, redacts and screens the request for prompt
injection (`config/guardrails.yaml`), `stage: output` checks the answer. Example workflow step:

    check_answer:
      service: guardrail
      params: {stage: output, checks: [not_empty, no_pii, grounded, complete], regenerate: 1}
      next:
        - when: {verdict: pass}
          to: respond
        - when: {verdict: regenerate}
          to: draft
        - to: handoff
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from opentelemetry import trace

from services.guardrail.answer_recovery import Recovery, RecoveryMisconfigured, check_answer
from services.guardrail.grounding_checks import output_checks
from services.guardrail.input_stage import guard_input
from services.guardrail.output_checks import Check
from services.guardrail.release import WindowRelease
from services.guardrail.settings import GuardrailSettings
from shared.bus import Topics
from shared.config import ConduitSettings
from shared.contracts import DraftChunk, GuardrailReport, StepEvent, Verdict
from shared.embeddings import Embedder, default_embedder
from shared.grounding import load_pipeline
from shared.injection import InjectionScreen
from shared.runtime import (
    RawConsumer,
    StepCall,
    StepError,
    StepHandler,
    StepMisconfigured,
    StepService,
)
from shared.runtime.audit import GUARDRAIL
from shared.tools import load_tool_catalog

# What a window of a streamed answer is held to before a client sees it; the rest
# (sources cited, a complete answer) can only be judged on the whole answer.
WINDOW_CHECKS = ("no_pii", "grounded", "claims_match_actions", "supported_by_sources")


def _checks(call: StepCall, known: Mapping[str, Check]) -> list[Check]:
    names = call.params.get("checks", list(known))
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise StepMisconfigured(
            f"{call.workflow}.{call.step_id}: guardrail `checks` must be a list of names"
        )
    unknown = [name for name in names if name not in known]
    if unknown:
        raise StepMisconfigured(
            f"{call.workflow}.{call.step_id}: unknown guardrail checks {unknown}; "
            f"known: {sorted(known)}"
        )
    return [known[name] for name in names]


def _recovery(call: StepCall) -> Recovery:
    try:
        return Recovery.from_params(call.params)
    except RecoveryMisconfigured as exc:
        raise StepMisconfigured(f"{call.workflow}.{call.step_id}: {exc}") from exc


class Guardrail:
    """The step handler. Example:
    `await Guardrail(GuardrailSettings(), screen, output_checks(catalog, embedder)).handle(...)`.
    """

    def __init__(
        self, settings: GuardrailSettings, screen: InjectionScreen, checks: Mapping[str, Check]
    ) -> None:
        self._settings = settings
        self._screen = screen
        self._output_checks = checks

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
            checks = _checks(call, self._output_checks)
            report = await asyncio.to_thread(
                check_answer, event, checks, _recovery(call), steps_left=call.steps_left
            )
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
    embedder = default_embedder()
    checks = output_checks(load_tool_catalog(settings.config_dir), embedder)
    handler = Guardrail(guardrail or GuardrailSettings(), screen, checks)
    releases = WindowRelease([checks[n] for n in WINDOW_CHECKS], Topics(settings.topic_prefix))
    drafts: RawConsumer[DraftChunk] = RawConsumer(
        name="drafts",
        topic=lambda topics: topics.drafts,
        decode=DraftChunk.FromString,
        handle=releases.handle,
    )
    return StepService(
        name="guardrail",
        handle=_audit_refusals(handler.handle),
        warm_up=lambda: _warm_up(screen, embedder),
        consumes_ingest=True,
        raw_consumers=(drafts,),
        bind=releases.bind,
    )


def _warm_up(screen: InjectionScreen, embedder: Embedder) -> None:
    """Load the injection classifier, the grammar parser and the embedding model before
    the first request."""
    screen.warm_up()
    load_pipeline()
    embedder.warm_up()


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
            "conduit.guardrail.answered_by": report.answered_by,
            "conduit.guardrail.regenerations": report.regenerations,
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
    if report.answered_by:
        reasons.insert(0, f"answered by {report.answered_by}")
    await call.audit.record(GUARDRAIL, report.stage, outcome, detail="; ".join(reasons))
