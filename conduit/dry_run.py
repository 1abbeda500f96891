"""`conduit route "message"`: the route a message would take, without running a model or a tool.

The steps whose outcome needs only the message run for real, in this process: the input
guardrail (redaction, injection screening) and intent classification, and the router
follows them. From the first step whose way on depends on a model, a tool or an output
check, the rest of the graph is drawn with its conditions, each step once (a step seen
before is marked "see above").
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from services.guardrail.service import build as build_guardrail
from services.intent.service import build as build_intent
from shared.config import ConduitSettings
from shared.contracts import ErrorCode, StepEvent, UserRequest, new_envelope, now_ms
from shared.runtime import StepCall, StepService
from shared.runtime.errors import StepError
from shared.workflow import Continue, Finish, Stop, WorkflowRegistry, advance, locate
from shared.workflow.model import HANDOFF, RESPOND, WORKFLOW_PREFIX, Condition, Step, Workflow

# Steps that run for real in a dry run: nothing they do leaves this process.
_OFFLINE_SERVICES = ("guardrail", "intent")
_MAX_DRAWN_STEPS = 60


@dataclass
class RouteReport:
    lines: list[str] = field(default_factory=list)

    def add(self, depth: int, text: str) -> None:
        self.lines.append("  " * depth + text)

    def text(self) -> str:
        return "\n".join(self.lines)


def route_message(
    settings: ConduitSettings,
    text: str,
    *,
    tenant_id: str = "default",
    roles: Sequence[str] = ("customer",),
) -> str:
    """The route of `text` through the configured workflows, as indented lines."""
    return asyncio.run(_route(settings, text, tenant_id=tenant_id, roles=roles))


async def _route(
    settings: ConduitSettings, text: str, *, tenant_id: str, roles: Sequence[str]
) -> str:
    registry = WorkflowRegistry.load(settings.config_dir / "workflows")
    services = {"guardrail": build_guardrail(settings), "intent": build_intent(settings)}
    event = StepEvent(
        envelope=new_envelope(session_id="dry-run", tenant_id=tenant_id, roles=roles),
        request=UserRequest(text=text),
    )
    report = RouteReport()
    report.add(0, f"message: {text!r} (tenant {tenant_id}, roles {', '.join(roles)})")
    position = locate(registry, event.envelope.workflow)
    while isinstance(position, Continue) and position.step.service in _OFFLINE_SERVICES:
        event.envelope.workflow.CopyFrom(position.position(event.envelope.workflow.steps_taken))
        try:
            await _run(services[position.step.service], event, position)
        except StepError as failure:
            report.add(0, f"{_name(position)}  {position.step.service}: ends the request")
            report.add(1, f"error {ErrorCode.Name(failure.code)}: {failure.message}")
            return report.text()
        report.add(0, f"{_name(position)}  {position.step.service}: {_outcome(event, position)}")
        route = advance(registry, event, now_ms())
        if isinstance(route, Finish | Stop):
            report.add(1, f"-> {_finish(route)}")
            return report.text()
        if route.workflow.name != position.workflow.name:
            report.add(1, f"-> workflow:{route.workflow.name}")
        event.envelope.workflow.steps_taken += 1
        position = route
    if isinstance(position, Stop):
        report.add(0, f"-> error: {position.message}")
        return report.text()
    report.add(0, "from here on the way depends on the model, tools and checks:")
    _draw(registry, position.workflow, position.step_id, report, depth=1, seen=set())
    return report.text()


async def _run(service: StepService, event: StepEvent, position: Continue) -> None:
    call = StepCall(
        workflow=position.workflow.name, step_id=position.step_id, params=position.step.params
    )
    await service.handle(event, call)


def _name(position: Continue) -> str:
    return f"{position.workflow.name}.{position.step_id}"


def _outcome(event: StepEvent, position: Continue) -> str:
    if position.step.service == "intent":
        intent = event.intent
        chosen = "fallback (low confidence)" if intent.fallback else intent.intent
        entities = ", ".join(f"{e.kind}={e.value}" for e in intent.entities) or "none"
        return f"{chosen} ({intent.confidence:.2f}); entities: {entities}"
    report = event.input_guard
    redacted = ", ".join(f"{r.kind} {r.count}" for r in report.redactions)
    findings = "; ".join(report.findings)
    return (
        "input passed"
        + (f"; redacted: {redacted}" if redacted else "")
        + (f"; findings: {findings}" if findings else "")
    )


def _finish(route: Finish | Stop) -> str:
    if isinstance(route, Stop):
        return f"error: {route.message}"
    return route.kind if not route.reason else f"{route.kind} ({route.reason})"


def _draw(
    registry: WorkflowRegistry,
    workflow: Workflow,
    step_id: str,
    report: RouteReport,
    *,
    depth: int,
    seen: set[str],
) -> None:
    name = f"{workflow.name}.{step_id}"
    step = workflow.steps[step_id]
    if name in seen:
        report.add(depth, f"{name}  (see above)")
        return
    seen.add(name)
    if len(seen) > _MAX_DRAWN_STEPS:
        report.add(depth, "... (more steps)")
        return
    report.add(depth, f"{name}  {step.service}{_describe_params(step)}")
    edges = step.edges()
    for edge in edges:
        indent = depth + 1 if len(edges) > 1 else depth
        if len(edges) > 1:
            report.add(depth + 1, f"if {_describe(edge.when)}:")
            indent = depth + 2
        _draw_target(registry, workflow, edge.to, report, depth=indent, seen=seen)


def _draw_target(
    registry: WorkflowRegistry,
    workflow: Workflow,
    target: str,
    report: RouteReport,
    *,
    depth: int,
    seen: set[str],
) -> None:
    if target in (RESPOND, HANDOFF):
        report.add(depth, f"-> {target}")
        return
    if target.startswith(WORKFLOW_PREFIX):
        other = registry.get(target.removeprefix(WORKFLOW_PREFIX))
        if other is None:
            report.add(depth, f"-> unknown {target}")
            return
        report.add(depth, f"-> {target}")
        _draw(registry, other, other.start, report, depth=depth, seen=seen)
        return
    _draw(registry, workflow, target, report, depth=depth, seen=seen)


def _describe(condition: Condition | None) -> str:
    if condition is None:
        return "otherwise"
    return " and ".join(
        f"{key} = {value}" for key, value in condition.model_dump(exclude_none=True).items()
    )


def _describe_params(step: Step) -> str:
    params = step.params
    details = [
        f"{key} {params[key]}"
        for key in ("template", "top_k", "model", "stage", "checks")
        if key in params
    ]
    if "delegates" in params:
        details.append(f"may hand over to {', '.join(params['delegates'])}")
    call = params.get("call")
    if isinstance(call, dict):
        details.append(f"calls {call.get('tool')}")
    return f" ({'; '.join(details)})" if details else ""
