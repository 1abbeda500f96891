"""Comparing a replay with its recording: what each run did, and whether it got worse.

A run is summarised (outcome, answer, tool calls, guardrail decisions, tokens, cost,
latency, the prompt, model and workflow versions) and the two summaries compared:

- **regression**: the answer is lost (an error, a handoff, nothing) or empty, a guardrail
  stage that passed now stops the request, a recorded tool call is missing or a tool call
  now fails, or cost or tokens grew by more than the thresholds;
- **change**: anything else differs (answer text, extra or reordered calls, a guardrail
  decision, lower or slightly higher cost);
- **same**: none of that (versions and latency aside: they may differ by design).

Example::

    comparison = compare(recorded, replayed)
    print(comparison.verdict, comparison.findings)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal

from conduit.replay.recording import Recording
from conduit.report import end_to_end_ms, outcome_of
from shared.runtime.audit import GUARDRAIL

Verdict = Literal["regression", "change", "same"]
# Guardrail outcomes that let the request go on (shared.runtime.audit, services.guardrail).
_PASSING = frozenset({"pass", "redacted"})
NO_RESPONSE = "no response"


@dataclass(frozen=True)
class Thresholds:
    """Growth (as a fraction: 0.1 is 10 %) beyond which cost or tokens are a regression."""

    cost_increase: float = 0.10
    token_increase: float = 0.10


@dataclass(frozen=True)
class RunSummary:
    outcome: str
    answer: str
    tool_calls: tuple[str, ...]  # "tool {canonical arguments}", in call order
    tool_failures: tuple[str, ...]  # "tool: CODE" of the calls that failed
    guardrail: tuple[str, ...]  # "stage: outcome", in decision order
    input_tokens: int
    output_tokens: int
    cost_usd: float
    latency_ms: float
    prompt: str
    model: str
    workflow: str

    @property
    def answered(self) -> bool:
        return self.outcome == "answer"

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def summarize(recording: Recording) -> RunSummary:
    response = recording.response
    exchanges = recording.tool_exchanges()
    decisions = sorted(
        (r for r in recording.audit if r.kind == GUARDRAIL), key=lambda r: r.at_unix_ms
    )
    # The event after an inference step carries that step's model output.
    outputs = [
        e.model_output
        for e in recording.step_events
        if e.steps and e.steps[-1].service == "inference"
    ]
    envelope = response.envelope if response is not None else recording.request.envelope
    versions, workflow = envelope.versions, envelope.workflow
    return RunSummary(
        outcome=outcome_of(response) if response is not None else NO_RESPONSE,
        answer=response.answer.text if response is not None else "",
        tool_calls=tuple(f"{x.call.tool} {x.call.arguments_json}" for x in exchanges),
        tool_failures=tuple(f"{x.call.tool}: {x.error.code}" for x in exchanges if not x.ok),
        guardrail=tuple(f"{r.subject}: {r.outcome}" for r in decisions),
        input_tokens=sum(o.input_tokens for o in outputs),
        output_tokens=sum(o.output_tokens for o in outputs),
        cost_usd=envelope.budget.cost_used_usd,
        latency_ms=end_to_end_ms(response) if response is not None else 0.0,
        prompt=_prompt(versions.prompt_template, versions.prompt_version, versions.prompt_label),
        model=versions.model or "-",
        workflow=_workflow(workflow.name, workflow.version, workflow.content_hash),
    )


@dataclass(frozen=True)
class Comparison:
    request_id: str
    tenant_id: str
    question: str
    recorded: RunSummary
    replayed: RunSummary
    verdict: Verdict
    findings: tuple[str, ...]  # regressions first, then changes


def compare(
    recorded: Recording, replayed: Recording, thresholds: Thresholds | None = None
) -> Comparison:
    limits = thresholds or Thresholds()
    before, after = summarize(recorded), summarize(replayed)
    regressions = _regressions(before, after, limits)
    changes = _changes(before, after)
    verdict: Verdict = "regression" if regressions else "change" if changes else "same"
    envelope = recorded.request.envelope
    return Comparison(
        request_id=envelope.request_id,
        tenant_id=envelope.tenant_id,
        question=recorded.request.request.text,
        recorded=before,
        replayed=after,
        verdict=verdict,
        findings=(*regressions, *changes),
    )


def _regressions(before: RunSummary, after: RunSummary, limits: Thresholds) -> list[str]:
    found = []
    if before.answered and not after.answered:
        found.append(f"answer lost: {after.outcome}")
    elif before.answer.strip() and after.answered and not after.answer.strip():
        found.append("answer is empty")
    blocked = [
        f"guardrail {stage} now {outcome} (was {was})"
        for stage, was, outcome in _paired_decisions(before, after)
        if was in _PASSING and outcome not in _PASSING
    ]
    found += blocked
    lost = Counter(before.tool_calls) - Counter(after.tool_calls)
    found += [f"tool call lost: {call}" for call in lost]
    failing = Counter(after.tool_failures) - Counter(before.tool_failures)
    found += [f"tool call fails: {failure}" for failure in failing]
    if _grew(before.cost_usd, after.cost_usd, limits.cost_increase):
        found.append(f"cost up: {_change(before.cost_usd, after.cost_usd, 'USD')}")
    if _grew(before.tokens, after.tokens, limits.token_increase):
        found.append(f"tokens up: {_change(before.tokens, after.tokens, 'tokens')}")
    return found


def _changes(before: RunSummary, after: RunSummary) -> list[str]:
    found = []
    if before.outcome != after.outcome and after.answered:
        found.append(f"outcome: {before.outcome} -> {after.outcome}")
    if before.answer != after.answer:
        found.append("answer text differs")
    if before.tool_calls != after.tool_calls:
        found.append("tool call sequence differs")
    if before.guardrail != after.guardrail:
        found.append("guardrail decisions differ")
    if before.cost_usd != after.cost_usd:
        found.append(f"cost: {_change(before.cost_usd, after.cost_usd, 'USD')}")
    if before.tokens != after.tokens:
        found.append(f"tokens: {_change(before.tokens, after.tokens, 'tokens')}")
    return found


def _paired_decisions(before: RunSummary, after: RunSummary) -> list[tuple[str, str, str]]:
    """(stage, recorded outcome, replayed outcome) of each stage's last decision (an answer
    written again is decided once more), for stages both runs decided, plus stages the
    replay decided alone, as if recorded passing (a new stop is a regression)."""
    recorded = dict(decision.split(": ", 1) for decision in before.guardrail)
    replayed = dict(decision.split(": ", 1) for decision in after.guardrail)
    return [(stage, recorded.get(stage, "pass"), outcome) for stage, outcome in replayed.items()]


def _grew(before: float, after: float, allowed: float) -> bool:
    return after > before * (1 + allowed) if before > 0 else after > 0


def _change(before: float, after: float, unit: str) -> str:
    if unit == "USD":
        values = f"{before:.6f} -> {after:.6f} {unit}"
    else:
        values = f"{before:g} -> {after:g} {unit}"
    if before > 0:
        return f"{values} ({(after - before) / before:+.0%})"
    return values


def _prompt(template: str, version: str, label: str) -> str:
    if not template:
        return "-"
    return f"{template} v{version}" + (f" ({label})" if label else "")


def _workflow(name: str, version: str, content_hash: str) -> str:
    if not name:
        return "-"
    return f"{name} {version}" + (f" #{content_hash}" if content_hash else "")
