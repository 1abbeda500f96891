"""Workflow files, their validation, and the pure router that picks every next hop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.config import ConfigFileError, repo_root
from shared.contracts import (
    Entity,
    Envelope,
    ErrorCode,
    StepEvent,
    ToolCall,
    ToolError,
    ToolExchange,
    Verdict,
    WorkflowPosition,
    new_envelope,
)
from shared.workflow import (
    Continue,
    Finish,
    Route,
    Stop,
    WorkflowRegistry,
    advance,
    check_limits,
    locate,
)

NOW_MS = 1_700_000_000_000
KNOWN_INTENTS = ("refund", "order_status", "product_question", "escalation")


@pytest.fixture(scope="module")
def registry() -> WorkflowRegistry:
    return WorkflowRegistry.load(repo_root() / "config" / "workflows", known_intents=KNOWN_INTENTS)


def _event(workflow: str, step: str, *, steps_taken: int = 1) -> StepEvent:
    envelope = new_envelope(session_id="session-1")
    envelope.deadline_unix_ms = NOW_MS + 60_000
    envelope.workflow.CopyFrom(
        WorkflowPosition(name=workflow, version="1.0", step=step, steps_taken=steps_taken)
    )
    return StepEvent(envelope=envelope)


def _tool_exchange(*, ok: bool, at_step: int) -> ToolExchange:
    return ToolExchange(
        call=ToolCall(call_id="c1", tool="lookup_order", arguments_json="{}"),
        ok=ok,
        error=ToolError() if ok else ToolError(code="not_found", message="no such order"),
        at_step=at_step,
    )


def _continued(route: Route) -> Continue:
    assert isinstance(route, Continue), f"expected the request to go on, got {route}"
    return route


def _stopped(route: Route | None) -> Stop:
    assert isinstance(route, Stop), f"expected the request to stop with an error, got {route}"
    return route


def _write(directory: Path, file_name: str, workflow: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / file_name
    path.write_text(yaml.safe_dump(workflow, sort_keys=False), encoding="utf-8")
    return path


def _triage(**steps: dict[str, Any]) -> dict[str, Any]:
    """A minimal entry workflow; `steps` replace its single `screen` step."""
    return {
        "name": "triage",
        "version": "1",
        "start": next(iter(steps), "screen"),
        "limits": {"max_steps": 5},
        "steps": steps or {"screen": {"service": "guardrail", "next": "respond"}},
    }


# --- routing on the real workflows -------------------------------------------------------


def test_the_real_workflows_load_with_the_known_intents(registry: WorkflowRegistry) -> None:
    assert set(registry.workflows) == {
        "triage",
        "refund",
        "order_status",
        "product_question",
        "support_desk",
        "human_reply",
        "incident_triage",
        "summarise_history",
        "route_by_model",
    }, (
        "config/workflows should define the entry, the intent workflows, the desk, incident "
        "triage, human replies, history summaries and the router's second stage"
    )


def test_an_empty_position_locates_the_entry_workflows_start(registry: WorkflowRegistry) -> None:
    located = locate(registry, WorkflowPosition())

    assert isinstance(located, Continue), f"an empty position should locate a step: {located}"
    assert (located.workflow.name, located.step_id) == ("triage", "screen_input"), (
        "a new request must start at the entry workflow's start step"
    )


def test_an_unconditional_edge_goes_to_its_step(registry: WorkflowRegistry) -> None:
    route = _continued(advance(registry, _event("triage", "screen_input"), NOW_MS))

    assert (route.workflow.name, route.step_id, route.step.service) == (
        "triage",
        "classify",
        "intent",
    ), "screen_input has a single edge to classify"


def test_an_intent_edge_switches_to_that_workflows_start_step(registry: WorkflowRegistry) -> None:
    event = _event("triage", "classify")
    event.intent.intent = "refund"

    route = _continued(advance(registry, event, NOW_MS))

    assert (route.workflow.name, route.step_id) == ("refund", "retrieve_policy"), (
        "`workflow:refund` must continue at the refund workflow's start step"
    )
    assert route.position(2) == WorkflowPosition(
        name="refund",
        version="1.0",
        step="retrieve_policy",
        steps_taken=2,
        content_hash=route.workflow.content_hash,
    ), "the new position must name the target workflow, its version, hash and the step count"
    assert len(route.position(2).content_hash) == 10, "the position must pin the definition"


def test_a_fallback_intent_takes_the_default_edge(registry: WorkflowRegistry) -> None:
    event = _event("triage", "classify")
    event.intent.intent = "refund"
    event.intent.fallback = True

    route = advance(registry, event, NOW_MS)

    assert isinstance(route, Finish), f"a low-confidence intent must not be routed: {route}"
    assert route.kind == "handoff", "a fallback intent must take the default edge to a person"


def test_an_intent_no_edge_names_takes_the_default_edge(registry: WorkflowRegistry) -> None:
    event = _event("triage", "classify")
    event.intent.intent = "out_of_scope"

    route = advance(registry, event, NOW_MS)

    assert route == Finish("handoff", "triage.classify routed to handoff: intent out_of_scope"), (
        "an intent without an edge must go to the default edge, naming where it left and why"
    )


def test_an_escalation_goes_to_a_person_even_about_an_invoice_and_an_order(
    registry: WorkflowRegistry,
) -> None:
    event = _event("triage", "classify")
    event.intent.intent = "escalation"
    event.intent.entities.extend(
        [Entity(kind="invoice_id", value="INV-1001"), Entity(kind="order_id", value="ORD-5001")]
    )

    route = advance(registry, event, NOW_MS)

    assert route == Finish("handoff", "triage.classify routed to handoff: intent escalation"), (
        f"an escalation must reach a person before the support desk sees it: {route}"
    )


def test_a_handoff_from_the_classifier_carries_its_reason(registry: WorkflowRegistry) -> None:
    event = _event("triage", "classify")
    event.intent.intent = "refund"
    event.intent.fallback = True
    event.intent.reason = "the message is empty"

    route = advance(registry, event, NOW_MS)

    assert route == Finish("handoff", "triage.classify routed to handoff: the message is empty")


def test_tool_calls_route_the_agent_to_act(registry: WorkflowRegistry) -> None:
    event = _event("refund", "decide", steps_taken=3)
    event.model_output.tool_calls.append(ToolCall(call_id="call-3-0", tool="lookup_invoice"))

    route = _continued(advance(registry, event, NOW_MS))

    assert route.step_id == "act", "has_tool_calls: true must route to the tool-executor step"


def test_an_answer_without_tool_calls_routes_to_the_output_check(
    registry: WorkflowRegistry,
) -> None:
    event = _event("refund", "decide", steps_taken=3)
    event.model_output.text = "Done."

    route = _continued(advance(registry, event, NOW_MS))

    assert route.step_id == "check_answer", "without tool calls the default edge must be taken"


def test_a_tool_error_in_this_round_hands_off(registry: WorkflowRegistry) -> None:
    event = _event("refund", "act", steps_taken=4)
    event.tool_exchanges.append(_tool_exchange(ok=False, at_step=4))

    route = advance(registry, event, NOW_MS)

    assert isinstance(route, Finish), f"a failed tool call must end the request: {route}"
    assert route.kind == "handoff", "tool_error: true must route to handoff"


@pytest.mark.parametrize(
    ("entities", "expected"), [(["email"], "orders_by_email"), (["amount"], "handoff")]
)
def test_an_entity_condition_routes_on_what_the_request_holds(
    registry: WorkflowRegistry, entities: list[str], expected: str
) -> None:
    event = _event("order_status", "lookup_order", steps_taken=4)
    event.tool_exchanges.append(_tool_exchange(ok=False, at_step=4))
    event.intent.entities.extend(Entity(kind=kind, value="x") for kind in entities)

    route = advance(registry, event, NOW_MS)

    taken = route.step_id if isinstance(route, Continue) else getattr(route, "kind", route)
    assert taken == expected, f"with entities {entities} the lookup failure must go to {expected}"


def test_a_tool_error_from_an_earlier_round_is_ignored(registry: WorkflowRegistry) -> None:
    event = _event("refund", "act", steps_taken=7)
    event.tool_exchanges.extend(
        [_tool_exchange(ok=False, at_step=4), _tool_exchange(ok=True, at_step=7)]
    )

    route = _continued(advance(registry, event, NOW_MS))

    assert route.step_id == "draft", (
        "only exchanges with at_step == steps_taken belong to this round; an old failure "
        "must not hand the request off"
    )


def test_a_passing_output_check_responds(registry: WorkflowRegistry) -> None:
    event = _event("refund", "check_answer", steps_taken=9)
    event.output_guard.verdict = Verdict.VERDICT_PASS

    assert advance(registry, event, NOW_MS) == Finish("respond"), (
        "verdict: pass on the output check must deliver the answer"
    )


def test_a_rejected_output_check_hands_off(registry: WorkflowRegistry) -> None:
    event = _event("refund", "check_answer", steps_taken=9)
    event.output_guard.verdict = Verdict.VERDICT_REJECT
    event.input_guard.verdict = Verdict.VERDICT_PASS

    route = advance(registry, event, NOW_MS)

    assert route == Finish("handoff", "refund.check_answer routed to handoff"), (
        "an output-stage step must read the output verdict, not the input one"
    )


def test_an_output_check_asking_for_a_new_answer_goes_back_to_the_draft(
    registry: WorkflowRegistry,
) -> None:
    event = _event("refund", "check_answer", steps_taken=9)
    event.output_guard.verdict = Verdict.VERDICT_REGENERATE

    assert _continued(advance(registry, event, NOW_MS)).step_id == "draft", (
        "verdict: regenerate must write the prompt again, with the findings"
    )


def test_an_input_stage_step_reads_the_input_verdict(tmp_path: Path) -> None:
    screen = {
        "service": "guardrail",
        "params": {"stage": "input"},
        "next": [{"when": {"verdict": "reject"}, "to": "handoff"}, {"to": "respond"}],
    }
    _write(tmp_path, "triage.yaml", _triage(screen=screen))
    registry = WorkflowRegistry.load(tmp_path)
    event = _event("triage", "screen")
    event.input_guard.verdict = Verdict.VERDICT_REJECT
    event.output_guard.verdict = Verdict.VERDICT_PASS

    route = advance(registry, event, NOW_MS)

    assert isinstance(route, Finish), f"expected the request to finish: {route}"
    assert route.kind == "handoff", "stage: input must match `verdict` against input_guard"


def test_all_fields_of_a_condition_must_hold(tmp_path: Path) -> None:
    decide = {
        "service": "inference",
        "next": [
            {"when": {"intent": "refund", "has_tool_calls": True}, "to": "handoff"},
            {"to": "respond"},
        ],
    }
    _write(tmp_path, "triage.yaml", _triage(decide=decide))
    registry = WorkflowRegistry.load(tmp_path)
    event = _event("triage", "decide")
    event.intent.intent = "refund"

    assert advance(registry, event, NOW_MS) == Finish("respond"), (
        "an edge whose has_tool_calls does not hold must not be taken even if its intent does"
    )


def test_a_list_of_intents_matches_any_of_them(tmp_path: Path) -> None:
    classify = {
        "service": "intent",
        "next": [
            {"when": {"intent": ["refund", "order_status"]}, "to": "handoff"},
            {"to": "respond"},
        ],
    }
    _write(tmp_path, "triage.yaml", _triage(classify=classify))
    registry = WorkflowRegistry.load(tmp_path)
    event = _event("triage", "classify")
    event.intent.intent = "order_status"

    route = advance(registry, event, NOW_MS)

    assert isinstance(route, Finish), f"expected the request to finish: {route}"
    assert route.kind == "handoff", "`intent: [a, b]` must match the second intent too"


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        (["it_operator"], "handoff"),
        (["customer", "supervisor"], "handoff"),
        (["customer"], "respond"),
    ],
)
def test_a_role_condition_matches_a_principal_holding_any_of_its_roles(
    tmp_path: Path, roles: list[str], expected: str
) -> None:
    classify = {
        "service": "intent",
        "next": [
            {"when": {"role": ["it_operator", "supervisor"]}, "to": "handoff"},
            {"to": "respond"},
        ],
    }
    _write(tmp_path, "triage.yaml", _triage(classify=classify))
    registry = WorkflowRegistry.load(tmp_path)
    event = _event("triage", "classify")
    event.envelope.principal.roles[:] = roles

    route = advance(registry, event, NOW_MS)

    assert isinstance(route, Finish), f"expected the request to finish: {route}"
    assert route.kind == expected, (
        f"a principal with roles {roles} against `role: [it_operator, supervisor]` "
        f"must go to {expected}"
    )


def test_an_alert_from_an_it_operator_goes_to_incident_triage(registry: WorkflowRegistry) -> None:
    event = _event("triage", "classify")
    event.envelope.principal.roles[:] = ["it_operator"]
    event.intent.intent = "refund"

    route = _continued(advance(registry, event, NOW_MS))

    assert route.workflow.name == "incident_triage", (
        "an it_operator's request must go to incident_triage before any intent route, "
        f"went to {route.workflow.name}"
    )


# --- limits ------------------------------------------------------------------------------


def test_the_step_limit_stops_before_the_step_that_would_exceed_it(
    registry: WorkflowRegistry,
) -> None:
    event = _event("refund", "decide", steps_taken=19)
    event.model_output.tool_calls.append(ToolCall(call_id="call-19-0", tool="lookup_invoice"))

    stop = _stopped(advance(registry, event, NOW_MS))

    assert stop.code == ErrorCode.ERROR_CODE_MAX_STEPS_EXCEEDED, (
        f"step 20 of a workflow with max_steps 20 must not run: {stop}"
    )


def test_the_last_allowed_step_still_runs(registry: WorkflowRegistry) -> None:
    event = _event("refund", "decide", steps_taken=14)
    event.model_output.tool_calls.append(ToolCall(call_id="call-14-0", tool="lookup_invoice"))

    route = _continued(advance(registry, event, NOW_MS))

    assert route.step_id == "act", "step 15 of 16 is within the limit"


def test_a_workflow_switch_is_bounded_by_the_target_workflows_limit(
    registry: WorkflowRegistry,
) -> None:
    event = _event("triage", "classify", steps_taken=9)
    event.intent.intent = "order_status"

    stop = _stopped(advance(registry, event, NOW_MS))

    assert stop.code == ErrorCode.ERROR_CODE_MAX_STEPS_EXCEEDED, (
        "order_status allows 10 steps; the 10th must be refused after the switch"
    )


def test_a_passed_deadline_stops_the_request(registry: WorkflowRegistry) -> None:
    event = _event("triage", "screen_input")
    event.envelope.deadline_unix_ms = NOW_MS - 5

    stop = _stopped(advance(registry, event, NOW_MS))

    assert stop.code == ErrorCode.ERROR_CODE_DEADLINE_EXCEEDED, f"deadline not enforced: {stop}"
    assert "5 ms" in stop.message, f"the message should say how late it is: {stop.message}"


def test_a_request_without_deadline_never_times_out(registry: WorkflowRegistry) -> None:
    event = _event("triage", "screen_input")
    event.envelope.deadline_unix_ms = 0

    assert isinstance(advance(registry, event, NOW_MS), Continue), (
        "deadline_unix_ms = 0 means no deadline"
    )


def test_spent_tokens_beyond_the_budget_stop_the_request(registry: WorkflowRegistry) -> None:
    event = _event("triage", "screen_input")
    event.envelope.budget.max_tokens = 100
    event.envelope.budget.tokens_used = 101

    stop = _stopped(advance(registry, event, NOW_MS))

    assert stop.code == ErrorCode.ERROR_CODE_BUDGET_EXHAUSTED, f"token budget not enforced: {stop}"


def test_spent_cost_beyond_the_budget_stops_the_request(registry: WorkflowRegistry) -> None:
    event = _event("triage", "screen_input")
    event.envelope.budget.max_cost_usd = 0.01
    event.envelope.budget.cost_used_usd = 0.02

    stop = _stopped(advance(registry, event, NOW_MS))

    assert stop.code == ErrorCode.ERROR_CODE_BUDGET_EXHAUSTED, f"cost budget not enforced: {stop}"


def test_check_limits_passes_a_request_within_every_limit(registry: WorkflowRegistry) -> None:
    envelope = Envelope(deadline_unix_ms=NOW_MS + 1)
    envelope.budget.max_tokens = 100
    envelope.budget.tokens_used = 100
    refund = registry.get("refund")
    assert refund is not None

    assert check_limits(envelope, refund, NOW_MS) is None, (
        "a request exactly at its token budget and before its deadline may go on"
    )


def test_check_limits_counts_steps_already_taken(registry: WorkflowRegistry) -> None:
    triage = registry.get("triage")
    assert triage is not None
    envelope = Envelope(workflow=WorkflowPosition(steps_taken=4))

    stop = _stopped(check_limits(envelope, triage, NOW_MS))

    assert stop.code == ErrorCode.ERROR_CODE_MAX_STEPS_EXCEEDED, (
        "a request at max_steps may not run another step of the workflow"
    )


# --- unknown positions -------------------------------------------------------------------


def test_an_unknown_workflow_stops_the_request(registry: WorkflowRegistry) -> None:
    stop = _stopped(advance(registry, _event("no_such_workflow", "x"), NOW_MS))

    assert stop.code == ErrorCode.ERROR_CODE_UNKNOWN_WORKFLOW, f"wrong code: {stop}"
    assert "no_such_workflow" in stop.message, "the message should name the missing workflow"


def test_an_unknown_step_stops_the_request(registry: WorkflowRegistry) -> None:
    stop = _stopped(advance(registry, _event("refund", "no_such_step"), NOW_MS))

    assert stop.code == ErrorCode.ERROR_CODE_UNKNOWN_WORKFLOW, f"wrong code: {stop}"
    assert "no_such_step" in stop.message, "the message should name the missing step"


# --- validation --------------------------------------------------------------------------


def _load_error(directory: Path, **load_options: Any) -> str:
    with pytest.raises(ConfigFileError) as raised:
        WorkflowRegistry.load(directory, **load_options)
    return str(raised.value)


def test_a_conditional_last_edge_is_rejected_naming_file_and_field(tmp_path: Path) -> None:
    screen = {"service": "guardrail", "next": [{"when": {"verdict": "pass"}, "to": "respond"}]}
    path = _write(tmp_path, "triage.yaml", _triage(screen=screen))

    message = _load_error(tmp_path)

    assert str(path) in message, f"the error should name the file: {message}"
    assert "steps.screen.next" in message, f"the error should name the field: {message}"
    assert "last edge" in message, f"the error should say what is wrong: {message}"


def test_an_edge_to_an_unknown_step_is_rejected_naming_file_and_field(tmp_path: Path) -> None:
    screen = {
        "service": "guardrail",
        "next": [{"when": {"verdict": "pass"}, "to": "respond"}, {"to": "nowhere"}],
    }
    path = _write(tmp_path, "triage.yaml", _triage(screen=screen))

    message = _load_error(tmp_path)

    assert str(path) in message, f"the error should name the file: {message}"
    assert "steps.screen.next.1" in message, f"the error should name the edge: {message}"
    assert "'nowhere'" in message, f"the error should name the missing step: {message}"


def test_a_reserved_step_id_is_rejected_naming_file_and_field(tmp_path: Path) -> None:
    steps = {
        "screen": {"service": "guardrail", "next": "respond"},
        "respond": {"service": "inference", "next": "handoff"},
    }
    path = _write(tmp_path, "triage.yaml", _triage(**steps))

    message = _load_error(tmp_path)

    assert str(path) in message, f"the error should name the file: {message}"
    assert "steps.respond" in message, f"the error should name the step: {message}"
    assert "reserved" in message, f"the error should say the id is reserved: {message}"


def test_an_unknown_condition_key_is_rejected_naming_file_and_field(tmp_path: Path) -> None:
    screen = {
        "service": "guardrail",
        "next": [{"when": {"intnet": "refund"}, "to": "respond"}, {"to": "handoff"}],
    }
    path = _write(tmp_path, "triage.yaml", _triage(screen=screen))

    message = _load_error(tmp_path)

    assert str(path) in message, f"the error should name the file: {message}"
    assert "steps.screen.next.list[Edge].0.when.intnet" in message, (
        f"the error should name the misspelt key: {message}"
    )
    assert "Extra inputs are not permitted" in message, f"unknown keys must be refused: {message}"


def test_a_start_step_that_does_not_exist_is_rejected(tmp_path: Path) -> None:
    workflow = _triage()
    workflow["start"] = "missing"
    path = _write(tmp_path, "triage.yaml", workflow)

    message = _load_error(tmp_path)

    assert str(path) in message, f"the error should name the file: {message}"
    assert "start" in message, f"the error should name the field: {message}"
    assert "'missing'" in message, f"the error should name the missing step: {message}"


def test_an_unknown_workflow_target_is_rejected_naming_file_and_field(tmp_path: Path) -> None:
    classify = {
        "service": "intent",
        "next": [{"when": {"intent": "refund"}, "to": "workflow:refnud"}, {"to": "handoff"}],
    }
    path = _write(tmp_path / "flows", "entry.yaml", _triage(classify=classify))

    message = _load_error(tmp_path)

    assert str(path) in message, f"the error should name the file the workflow is in: {message}"
    assert "steps.classify.next.0" in message, f"the error should name the edge: {message}"
    assert "'refnud'" in message, f"the error should name the unknown workflow: {message}"


def test_an_unknown_intent_is_rejected_when_intents_are_known(tmp_path: Path) -> None:
    classify = {
        "service": "intent",
        "next": [{"when": {"intent": ["refund", "refunds"]}, "to": "respond"}, {"to": "handoff"}],
    }
    path = _write(tmp_path, "triage.yaml", _triage(classify=classify))

    message = _load_error(tmp_path, known_intents=KNOWN_INTENTS)

    assert str(path) in message, f"the error should name the file: {message}"
    assert "steps.classify.next.0" in message, f"the error should name the edge: {message}"
    assert "['refunds']" in message, f"the error should list only unknown intents: {message}"


def test_intents_are_not_checked_when_none_are_known(tmp_path: Path) -> None:
    classify = {
        "service": "intent",
        "next": [{"when": {"intent": "anything"}, "to": "respond"}, {"to": "handoff"}],
    }
    _write(tmp_path, "triage.yaml", _triage(classify=classify))

    registry = WorkflowRegistry.load(tmp_path)

    assert registry.get("triage") is not None, "without known intents any intent is accepted"


def test_a_workflow_defined_twice_is_rejected(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", _triage())
    second = _write(tmp_path, "b.yaml", _triage())

    message = _load_error(tmp_path)

    assert str(second) in message, f"the error should name the second file: {message}"
    assert "defined" in message, f"the error should say the name is taken: {message}"


def test_a_missing_entry_workflow_is_rejected(tmp_path: Path) -> None:
    workflow = _triage()
    workflow["name"] = "other"
    _write(tmp_path, "other.yaml", workflow)

    message = _load_error(tmp_path)

    assert "'triage'" in message, f"the error should name the missing entry workflow: {message}"
