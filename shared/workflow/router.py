"""Pure routing: where a request goes after a step, and whether it may go on at all.

Nothing here does I/O or reads the clock; callers pass `now_ms`. Every service asks
the same router, so conditions live in workflow files, not in service code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.contracts import Envelope, ErrorCode, StepEvent, Verdict, WorkflowPosition
from shared.workflow.model import HANDOFF, RESPOND, WORKFLOW_PREFIX, Condition, Step, Workflow
from shared.workflow.registry import WorkflowRegistry

_VERDICTS = {
    Verdict.VERDICT_PASS: "pass",
    Verdict.VERDICT_REJECT: "reject",
    Verdict.VERDICT_HANDOFF: "handoff",
    Verdict.VERDICT_REGENERATE: "regenerate",
}


@dataclass(frozen=True)
class Continue:
    """Run `step` of `workflow` next, on `step.service`."""

    workflow: Workflow
    step_id: str
    step: Step

    def position(self, steps_taken: int) -> WorkflowPosition:
        return WorkflowPosition(
            name=self.workflow.name,
            version=self.workflow.version,
            step=self.step_id,
            steps_taken=steps_taken,
            content_hash=self.workflow.content_hash,
        )


@dataclass(frozen=True)
class Finish:
    """The request is complete: deliver the answer, or hand it to a person."""

    kind: Literal["respond", "handoff"]
    reason: str = ""


@dataclass(frozen=True)
class Stop:
    """The request must end with a typed error."""

    code: ErrorCode
    message: str


Route = Continue | Finish | Stop


def locate(registry: WorkflowRegistry, position: WorkflowPosition) -> Continue | Stop:
    """The step a position points at; an empty position means the entry workflow's start."""
    name = position.name or registry.entry
    workflow = registry.get(name)
    if workflow is None:
        return Stop(ErrorCode.ERROR_CODE_UNKNOWN_WORKFLOW, f"unknown workflow {name!r}")
    step_id = position.step or workflow.start
    step = workflow.steps.get(step_id)
    if step is None:
        return Stop(
            ErrorCode.ERROR_CODE_UNKNOWN_WORKFLOW, f"workflow {name!r} has no step {step_id!r}"
        )
    return Continue(workflow, step_id, step)


def check_limits(
    envelope: Envelope, workflow: Workflow, now_ms: int, *, steps_ahead: int = 0
) -> Stop | None:
    """A Stop when the request is past its deadline, step limit or budget."""
    if envelope.deadline_unix_ms and now_ms > envelope.deadline_unix_ms:
        late = now_ms - envelope.deadline_unix_ms
        return Stop(ErrorCode.ERROR_CODE_DEADLINE_EXCEEDED, f"deadline passed {late} ms ago")
    steps = envelope.workflow.steps_taken + steps_ahead
    if steps >= workflow.limits.max_steps:
        return Stop(
            ErrorCode.ERROR_CODE_MAX_STEPS_EXCEEDED,
            f"{steps} steps taken, workflow {workflow.name!r} allows {workflow.limits.max_steps}",
        )
    budget = envelope.budget
    if budget.max_tokens and budget.tokens_used > budget.max_tokens:
        return Stop(
            ErrorCode.ERROR_CODE_BUDGET_EXHAUSTED,
            f"{budget.tokens_used} tokens used of {budget.max_tokens}",
        )
    if budget.max_cost_usd and budget.cost_used_usd > budget.max_cost_usd:
        return Stop(
            ErrorCode.ERROR_CODE_BUDGET_EXHAUSTED,
            f"${budget.cost_used_usd:.4f} spent of ${budget.max_cost_usd:.4f}",
        )
    return None


def matches(condition: Condition, event: StepEvent, step: Step) -> bool:
    checks: list[bool] = []
    if condition.intent is not None:
        intent = "" if event.intent.fallback else event.intent.intent
        checks.append(intent in condition.intents())
    if condition.has_tool_calls is not None:
        checks.append(bool(event.model_output.tool_calls) == condition.has_tool_calls)
    if condition.verdict is not None:
        report = event.input_guard if step.params.get("stage") == "input" else event.output_guard
        checks.append(_VERDICTS.get(report.verdict) == condition.verdict)
    if condition.tool_error is not None:
        this_round = event.envelope.workflow.steps_taken
        failed = any(not x.ok for x in event.tool_exchanges if x.at_step == this_round)
        checks.append(failed == condition.tool_error)
    if condition.entity is not None:
        kinds = {e.kind for e in event.intent.entities}
        checks.append(set(condition.entities()) <= kinds)
    if condition.delegate_to is not None:
        checks.append(event.model_output.delegate_to == condition.delegate_to)
    if condition.unsure is not None:
        checks.append(event.intent.unsure == condition.unsure)
    if condition.role is not None:
        checks.append(bool(set(condition.roles()) & set(event.envelope.principal.roles)))
    return all(checks)


def advance(registry: WorkflowRegistry, event: StepEvent, now_ms: int) -> Route:
    """Where `event` goes after its current step; the caller moves its position."""
    current = locate(registry, event.envelope.workflow)
    if isinstance(current, Stop):
        return current
    edge = next(
        e for e in current.step.edges() if e.when is None or matches(e.when, event, current.step)
    )
    if edge.to == RESPOND:
        return Finish("respond")
    if edge.to == HANDOFF:
        reason = f"{current.workflow.name}.{current.step_id} routed to handoff"
        if current.step.service == "intent":
            reason += f": {event.intent.reason or 'intent ' + event.intent.intent}"
        return Finish("handoff", reason)
    if edge.to.startswith(WORKFLOW_PREFIX):
        target = locate(registry, WorkflowPosition(name=edge.to.removeprefix(WORKFLOW_PREFIX)))
    else:
        target = Continue(current.workflow, edge.to, current.workflow.steps[edge.to])
    if isinstance(target, Stop):
        return target
    return check_limits(event.envelope, target.workflow, now_ms, steps_ahead=1) or target
