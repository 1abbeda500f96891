"""The router's second stage: the unsure edge, the route_by_model workflow, and its steps run
in process (scripted model: it hands the request to the first route offered)."""

from pathlib import Path

import pytest
import yaml

from conduit.route_model_choice import ModelChoice
from shared.config import ConduitSettings, repo_root
from shared.contracts import StepEvent
from shared.workflow import Continue, Finish, WorkflowRegistry, advance

NOW_MS = 1_700_000_000_000


def _unsure_event() -> StepEvent:
    event = StepEvent()
    event.envelope.workflow.name, event.envelope.workflow.step = "triage", "classify"
    event.envelope.deadline_unix_ms = NOW_MS + 60_000
    event.intent.intent, event.intent.unsure, event.intent.fallback = "refund", True, True
    return event


def _registry_with_second_stage(tmp_path: Path) -> WorkflowRegistry:
    """The shipped workflows, with triage's unsure edge turned on as route_by_model says."""
    config = tmp_path / "config"
    (config / "workflows").mkdir(parents=True)
    (config / "agents.yaml").write_text((repo_root() / "config/agents.yaml").read_text())
    for path in (repo_root() / "config/workflows").glob("*.yaml"):
        data = yaml.safe_load(path.read_text())
        if data["name"] == "triage":
            edges = data["steps"]["classify"]["next"]
            edges.insert(-1, {"when": {"unsure": True}, "to": "workflow:route_by_model"})
        (config / "workflows" / path.name).write_text(yaml.safe_dump(data, sort_keys=False))
    return WorkflowRegistry.load(config / "workflows")


def test_the_shipped_triage_hands_an_unsure_request_to_a_person() -> None:
    registry = WorkflowRegistry.load(repo_root() / "config/workflows")

    route = advance(registry, _unsure_event(), NOW_MS)

    assert isinstance(route, Finish), f"the second stage is off in the shipped triage: {route}"
    assert route.kind == "handoff", route


def test_with_the_unsure_edge_an_unsure_request_goes_to_the_model_choice(tmp_path: Path) -> None:
    route = advance(_registry_with_second_stage(tmp_path), _unsure_event(), NOW_MS)

    assert isinstance(route, Continue), f"expected the second stage: {route}"
    assert (route.workflow.name, route.step_id) == ("route_by_model", "choose"), route


def test_a_sure_request_skips_the_second_stage(tmp_path: Path) -> None:
    event = _unsure_event()
    event.intent.unsure = event.intent.fallback = False

    route = advance(_registry_with_second_stage(tmp_path), event, NOW_MS)

    assert isinstance(route, Continue), route
    assert route.workflow.name == "refund", f"a confident refund goes straight on: {route}"


async def test_the_model_choice_runs_the_real_steps_to_a_route(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CONDUIT_INFERENCE_BACKEND", "scripted")
    settings = ConduitSettings(data_dir=tmp_path)

    async with ModelChoice(settings) as choice:
        route = await choice.route("hmm, something about my money or my parcel")

    assert route == "refund", f"the scripted model takes the first route offered: {route}"
