"""Agents and supervisors in workflow files: what their steps expand to, how the model may
hand a request to another agent (bounded, never back), and the errors for bad files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.prompt_builder.service import PromptStep
from services.prompt_builder.templates import TemplateStore
from shared.agent import AgentOutput, parse_output
from shared.config import ConfigFileError, repo_root
from shared.contracts import StepEvent, WorkflowPosition, new_envelope
from shared.models import GgufTokenizer
from shared.runtime import StepCall
from shared.tools import load_tool_catalog
from shared.workflow import Continue, WorkflowRegistry, advance
from shared.workflow.agents import AgentCatalog, load_agents

NOW_MS = 1_000_000_000_000


@pytest.fixture(scope="module")
def registry() -> WorkflowRegistry:
    return WorkflowRegistry.load(repo_root() / "config" / "workflows")


@pytest.fixture(scope="module")
def prompt_step() -> PromptStep:
    config = repo_root() / "config"
    return PromptStep(TemplateStore(config / "prompts"), load_tool_catalog(config), GgufTokenizer())


def _write_config(tmp_path: Path, agents: dict[str, Any], workflow: dict[str, Any]) -> Path:
    (tmp_path / "agents.yaml").write_text(yaml.safe_dump({"agents": agents}), encoding="utf-8")
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    triage = {
        "name": "triage",
        "version": "1",
        "start": "go",
        "steps": {"go": {"service": "intent", "next": f"workflow:{workflow['name']}"}},
    }
    for data in (triage, workflow):
        (workflows / f"{data['name']}.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return workflows


def _load_error(workflows: Path) -> str:
    with pytest.raises(ConfigFileError) as error:
        WorkflowRegistry.load(workflows)
    return str(error.value)


def _event_at(workflow: str, step: str, *, delegate_to: str = "") -> StepEvent:
    event = StepEvent(envelope=new_envelope(session_id="s"))
    event.envelope.workflow.CopyFrom(WorkflowPosition(name=workflow, step=step, steps_taken=3))
    event.model_output.delegate_to = delegate_to
    return event


def test_an_agent_step_expands_to_its_prompt_model_tool_and_check_loop(
    registry: WorkflowRegistry,
) -> None:
    desk = registry.get("support_desk")
    assert desk is not None
    orders = {
        step_id: desk.steps[step_id] for step_id in desk.steps if step_id.startswith("orders")
    }

    assert {s: step.service for s, step in orders.items()} == {
        "orders": "prompt-builder",
        "orders.decide": "inference",
        "orders.act": "tool-executor",
        "orders.check": "guardrail",
    }, f"unexpected expansion: {orders}"
    assert orders["orders"].params["template"] == "order_agent"
    assert orders["orders.check"].params["checks"] == [
        "not_empty",
        "no_pii",
        "grounded",
        "claims_match_actions",
        "complete",
        "states_what_was_asked",
    ]
    assert [edge.to for edge in orders["orders.act"].edges()] == ["handoff", "orders"], (
        "after a tool call the agent drafts again; a failed tool goes to a person"
    )


def test_an_agents_refused_answer_is_written_again_from_its_prompt_then_goes_to_a_person(
    registry: WorkflowRegistry,
) -> None:
    desk = registry.get("support_desk")
    assert desk is not None
    check = desk.steps["billing.check"]

    assert check.params["regenerate"] == 1, check.params
    assert [(edge.when and edge.when.verdict, edge.to) for edge in check.edges()] == [
        ("pass", "respond"),
        ("regenerate", "billing.draft"),
        (None, "handoff"),
    ], "a refused answer must be drafted again (not retrieved again), then handed off"


def test_an_agent_with_retrieval_grounds_before_its_first_prompt(
    registry: WorkflowRegistry,
) -> None:
    desk = registry.get("support_desk")
    assert desk is not None

    assert desk.steps["billing"].service == "retrieval"
    assert desk.steps["billing"].edges()[0].to == "billing.draft"
    assert desk.steps["billing.act"].edges()[-1].to == "billing.draft", (
        "a tool round must not retrieve again"
    )


@pytest.mark.parametrize(("chosen", "expected"), [("billing", "billing"), ("orders", "orders")])
def test_the_supervisors_choice_routes_to_that_agents_first_step(
    registry: WorkflowRegistry, chosen: str, expected: str
) -> None:
    route = advance(registry, _event_at("support_desk", "desk.decide", delegate_to=chosen), NOW_MS)

    assert isinstance(route, Continue), route
    assert route.step_id == expected, f"delegate_to={chosen} went to {route.step_id}"


@pytest.mark.parametrize(
    ("intent", "expected"), [("refund", "billing"), ("order_status", "orders")]
)
def test_a_confident_intent_picks_the_supervisors_agent_without_the_model(
    registry: WorkflowRegistry, intent: str, expected: str
) -> None:
    event = _event_at("support_desk", "desk")
    event.intent.intent = intent

    route = advance(registry, event, NOW_MS)

    assert isinstance(route, Continue), route
    assert route.step_id == expected, f"intent {intent} went to {route.step_id}"


def test_an_unsure_intent_leaves_the_choice_to_the_supervisors_model(
    registry: WorkflowRegistry,
) -> None:
    event = _event_at("support_desk", "desk")
    event.intent.intent, event.intent.fallback = "refund", True

    route = advance(registry, event, NOW_MS)

    assert isinstance(route, Continue), route
    assert route.step_id == "desk.decide", "a low-confidence intent must not pick the agent"


def test_a_supervisor_intent_naming_another_agent_is_an_error(tmp_path: Path) -> None:
    agents = {"billing": {"description": "bills", "prompt": "refund_agent"}}
    workflow = {
        "name": "desk",
        "version": "1",
        "start": "desk",
        "steps": {
            "desk": {
                "supervisor": {
                    "prompt": "support_desk",
                    "agents": ["billing"],
                    "by_intent": {"order_status": "orders"},
                }
            },
            "billing": {"agent": "billing"},
        },
    }
    message = _load_error(_write_config(tmp_path, agents, workflow))

    assert "steps.desk.supervisor.by_intent.order_status" in message, message
    assert "not among `agents`" in message, message


def test_a_supervisor_that_answers_itself_goes_to_its_output_check(
    registry: WorkflowRegistry,
) -> None:
    route = advance(registry, _event_at("support_desk", "desk.decide"), NOW_MS)

    assert isinstance(route, Continue), route
    assert route.step_id == "desk.check"


def test_an_agent_hands_over_to_another_agent_of_the_workflow(registry: WorkflowRegistry) -> None:
    route = advance(
        registry, _event_at("support_desk", "billing.decide", delegate_to="orders"), NOW_MS
    )

    assert isinstance(route, Continue), route
    assert route.step_id == "orders", "a handoff must continue at the other agent's first step"


def test_an_unknown_agent_is_an_error_naming_the_file_and_step(tmp_path: Path) -> None:
    workflow = {"name": "desk", "version": "1", "start": "a", "steps": {"a": {"agent": "nobody"}}}
    message = _load_error(_write_config(tmp_path, {}, workflow))

    assert "desk.yaml" in message, message
    assert "steps.a.agent: unknown agent 'nobody'" in message, message


def test_a_supervisor_agent_without_a_step_in_the_workflow_is_an_error(tmp_path: Path) -> None:
    agents = {"billing": {"description": "bills", "prompt": "refund_agent"}}
    workflow = {
        "name": "desk",
        "version": "1",
        "start": "desk",
        "steps": {"desk": {"supervisor": {"prompt": "support_desk", "agents": ["billing"]}}},
    }
    message = _load_error(_write_config(tmp_path, agents, workflow))

    assert "steps.desk.supervisor" in message, message
    assert "has no step in this workflow" in message, message


def test_a_handoff_to_an_undeclared_agent_is_an_error_naming_the_agents_file(
    tmp_path: Path,
) -> None:
    (tmp_path / "agents.yaml").write_text(
        yaml.safe_dump(
            {"agents": {"a": {"description": "x", "prompt": "p", "handoff_to": ["ghost"]}}}
        ),
        encoding="utf-8",
    )
    with pytest.raises(ConfigFileError, match=r"agents\.yaml: agents\.a\.handoff_to: unknown"):
        load_agents(tmp_path)


async def test_the_model_may_hand_over_to_the_declared_agents_and_is_told_what_they_do(
    prompt_step: PromptStep, registry: WorkflowRegistry
) -> None:
    desk = registry.get("support_desk")
    assert desk is not None
    event = _event_at("support_desk", "desk")
    event.request.text = "Order ORD-5001 came but INV-1001 charged me twice"

    await prompt_step.handle(
        event, StepCall(workflow="support_desk", step_id="desk", params=desk.steps["desk"].params)
    )

    agents = _delegate_choices(event)
    assert agents == ["billing", "orders"], f"the desk must offer both agents: {agents}"
    system = event.prompt.messages[0].content
    assert "- billing: Charges, invoices and refunds" in system, system


async def test_handovers_are_bounded_and_never_back_to_an_agent_already_visited(
    prompt_step: PromptStep, registry: WorkflowRegistry
) -> None:
    params = _orders_params(registry)
    event = _event_at("support_desk", "orders")
    event.request.text = "Where is ORD-5001?"
    event.delegations.append("billing")

    await prompt_step.handle(
        event, StepCall(workflow="support_desk", step_id="orders", params=params)
    )

    assert _delegate_choices(event) == [], "billing was visited: the orders agent may not go back"
    event.delegations[:] = []
    await prompt_step.handle(
        event, StepCall(workflow="support_desk", step_id="orders", params=params)
    )
    assert _delegate_choices(event) == ["billing"], "unvisited, billing is offered"
    bounded = StepCall(
        workflow="support_desk", step_id="orders", params={**params, "max_delegations": 0}
    )
    await prompt_step.handle(event, bounded)
    assert _delegate_choices(event) == [], "no handovers may be offered past the limit"


def test_a_delegation_parses_to_the_agent_chosen() -> None:
    assert parse_output('{"action": "delegate", "agent": "orders"}') == AgentOutput(
        delegate_to="orders"
    )


def test_no_agents_file_means_no_agents(tmp_path: Path) -> None:
    assert load_agents(tmp_path) == AgentCatalog()


def _delegate_choices(event: StepEvent) -> list[str]:
    schema = json.loads(event.prompt.output_schema_json)
    options = schema.get("oneOf", [schema])
    return [
        name
        for option in options
        if option["properties"]["action"].get("const") == "delegate"
        for name in option["properties"]["agent"]["enum"]
    ]


async def test_an_agent_a_confident_intent_chose_keeps_the_request(
    prompt_step: PromptStep, registry: WorkflowRegistry
) -> None:
    call = StepCall(workflow="support_desk", step_id="orders", params=_orders_params(registry))
    event = _event_at("support_desk", "orders")
    event.request.text = "Was order ORD-5003 delivered? Invoice INV-1002 is paid."
    event.intent.intent = "order_status"

    await prompt_step.handle(event, call)

    assert _delegate_choices(event) == [], "chosen by its intent, the orders agent must keep it"
    event.intent.fallback = True
    await prompt_step.handle(event, call)
    assert _delegate_choices(event) == ["billing"], "chosen by the model, it may hand over"


def _orders_params(registry: WorkflowRegistry) -> dict[str, Any]:
    """The parameters of the support desk's orders agent's prompt step, as expanded."""
    desk = registry.get("support_desk")
    assert desk is not None, "the support desk workflow must load"
    return dict(desk.steps["orders"].params)
