"""`conduit validate`: load every declarative file and check references across them, so a
broken intent, workflow, prompt or tool file fails before any service starts."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from services.gateway.auth import load_api_keys
from services.guardrail.answer_recovery import Recovery, RecoveryMisconfigured
from services.guardrail.grounding_checks import output_checks
from services.inference.routing import load_model_catalog
from services.inference.tenant_budget import load_budgets
from services.intent.catalog import load_intent_catalog
from services.intent.preferences import load_preferences
from services.prompt_builder.templates import TemplateStore, check_tools_exist
from services.retrieval.service import RetrievalParams
from shared.config import ConfigFileError
from shared.embeddings import default_embedder
from shared.injection import load_guardrails_config
from shared.tools import load_tool_catalog
from shared.workflow import WorkflowRegistry
from shared.workflow.agents import load_agents


def validate_config(config_dir: Path) -> str:
    """A summary of what was loaded; raises `ConfigFileError` naming file and field."""
    intents = load_intent_catalog(config_dir / "intents.yaml")
    agents = load_agents(config_dir)
    workflows = WorkflowRegistry.load(
        config_dir / "workflows", known_intents=intents.intents, agents=agents
    )
    tools = load_tool_catalog(config_dir)
    templates = TemplateStore(config_dir / "prompts")
    check_tools_exist(templates, tools.tools, config_dir / "prompts")
    known_checks = output_checks(tools, default_embedder())
    models = load_model_catalog(config_dir / "models.yaml")
    load_budgets(config_dir / "budgets.yaml")
    load_api_keys(config_dir / "api_keys.yaml")
    load_guardrails_config(config_dir)
    load_preferences(config_dir)
    for workflow in workflows.workflows.values():
        for step_id, step in workflow.steps.items():
            where = f"{workflows.sources.get(workflow.name, config_dir)}: steps.{step_id}.params"
            template = step.params.get("template")
            if step.service == "prompt-builder":
                try:
                    templates.get(str(template))
                except KeyError as exc:
                    raise ConfigFileError(f"{where}.template: {exc.args[0]}") from exc
            if step.service == "retrieval":
                _check_retrieval_params(step.params, where)
            if step.service == "guardrail" and step.params.get("stage") == "output":
                _check_output_params(step.params, known_checks, where)
            model = step.params.get("model")
            if step.service == "inference" and model is not None and model not in models.models:
                raise ConfigFileError(f"{where}.model: unknown model {model!r}")
            call = step.params.get("call")
            if isinstance(call, dict) and call.get("tool") not in tools.tools:
                raise ConfigFileError(f"{where}.call.tool: unknown tool {call.get('tool')!r}")
    return (
        f"ok: {len(intents.intents)} intents, {len(workflows.workflows)} workflows, "
        f"{len(templates.all())} prompt versions, {len(tools.tools)} tools, "
        f"{len(models.models)} models, {len(agents.agents)} agents"
    )


def _check_retrieval_params(params: Mapping[str, Any], where: str) -> None:
    try:
        RetrievalParams.model_validate(dict(params))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise ConfigFileError(f"{where}.{field}: {first['msg']}") from exc


def _check_output_params(
    params: Mapping[str, Any], known: Mapping[str, object], where: str
) -> None:
    unknown = sorted(set(params.get("checks", [])) - set(known))
    if unknown:
        raise ConfigFileError(f"{where}.checks: unknown checks {unknown}; known: {sorted(known)}")
    try:
        Recovery.from_params(params)
    except RecoveryMisconfigured as exc:
        raise ConfigFileError(f"{where}: {exc}") from exc
