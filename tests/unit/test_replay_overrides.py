"""Replay overrides as configuration: an overlay over a copy of the config, prompt versions
and models pinned in the steps that use them, and the shipped files left alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from conduit.replay import OverrideError, ReplayOverrides, prepare_config
from conduit.replay.overrides import parse_prompt_override
from services.prompt_builder.templates import TemplateStore
from shared.config import repo_root
from shared.workflow import WorkflowRegistry
from tests.fixtures.replay.runs import MODELS_FILE, OVERLAY

SHIPPED = repo_root() / "config"


def _registry(config: Path) -> WorkflowRegistry:
    return WorkflowRegistry.load(config / "workflows")


def test_a_prompt_pinned_by_version_is_rendered_by_every_step_that_uses_it(tmp_path: Path) -> None:
    overrides = ReplayOverrides(prompts={"refund_agent": "9"}, overlay=OVERLAY)

    config = prepare_config(SHIPPED, overrides, tmp_path)

    refund = _registry(config).get("refund")
    assert refund is not None
    assert refund.steps["draft"].params["template"] == "refund_agent@9", refund.steps["draft"]
    billing = _registry(config).get("support_desk")
    assert billing is not None
    templates = {
        step.params.get("template")
        for step in billing.steps.values()
        if step.service == "prompt-builder"
    }
    assert "refund_agent@9" in templates, f"the billing agent still renders {templates}"
    assert TemplateStore(config / "prompts").get("refund_agent@9").template.version == 9


def test_a_prompt_may_be_pinned_by_its_label(tmp_path: Path) -> None:
    overrides = ReplayOverrides(
        prompts={"refund_agent": "explains the policy, never refunds"}, overlay=OVERLAY
    )

    config = prepare_config(SHIPPED, overrides, tmp_path)

    refund = _registry(config).get("refund")
    assert refund is not None
    assert refund.steps["draft"].params["template"] == "refund_agent@9"


def test_an_unknown_prompt_version_names_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(OverrideError, match=r"no version or label '7'.*1 \("):
        prepare_config(SHIPPED, ReplayOverrides(prompts={"refund_agent": "7"}), tmp_path)


def test_a_model_is_pinned_in_every_inference_step(tmp_path: Path) -> None:
    overrides = ReplayOverrides(model="scripted-premium", models_file=MODELS_FILE)

    config = prepare_config(SHIPPED, overrides, tmp_path)

    models = {
        step.params.get("model")
        for workflow in _registry(config).workflows.values()
        for step in workflow.steps.values()
        if step.service == "inference"
    }
    assert models == {"scripted-premium"}, models


def test_a_model_the_models_file_lacks_is_refused(tmp_path: Path) -> None:
    overrides = ReplayOverrides(model="gpt-nothing", models_file=MODELS_FILE)

    with pytest.raises(OverrideError, match=r"no model 'gpt-nothing'"):
        prepare_config(SHIPPED, overrides, tmp_path)


def test_the_shipped_config_is_left_as_it_was(tmp_path: Path) -> None:
    before = (SHIPPED / "workflows" / "refund.yaml").read_bytes()
    overrides = ReplayOverrides(
        prompts={"refund_agent": "9"},
        model="scripted-premium",
        models_file=MODELS_FILE,
        overlay=OVERLAY,
    )

    prepare_config(SHIPPED, overrides, tmp_path)

    assert (SHIPPED / "workflows" / "refund.yaml").read_bytes() == before
    assert not (SHIPPED / "prompts" / "refund_agent" / "v9.yaml").exists()


@pytest.mark.parametrize("text", ["refund_agent", "=2", "refund_agent="])
def test_a_prompt_override_must_name_template_and_version(text: str) -> None:
    with pytest.raises(OverrideError, match="<template>=<version or label>"):
        parse_prompt_override(text)


def test_a_workflow_of_another_version_comes_in_through_the_overlay(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay"
    (overlay / "workflows").mkdir(parents=True)
    refund = (SHIPPED / "workflows" / "refund.yaml").read_text(encoding="utf-8")
    (overlay / "workflows" / "refund.yaml").write_text(
        refund.replace('version: "1.0"', 'version: "1.1"'), encoding="utf-8"
    )

    config = prepare_config(
        SHIPPED, ReplayOverrides(overlay=overlay, prompts={"refund_agent": "1"}), tmp_path
    )

    replayed = _registry(config).get("refund")
    assert replayed is not None
    assert replayed.version == "1.1", "the overlay's workflow file was not used"
    assert replayed.steps["draft"].params["template"] == "refund_agent@1", "pins skipped it"
