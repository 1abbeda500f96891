"""`conduit validate`: load every declarative file and check references across them, so a
broken intent, workflow, prompt or tool file fails before any service starts."""

from __future__ import annotations

from pathlib import Path

from services.intent.catalog import load_intent_catalog
from services.prompt_builder.templates import TemplateStore, check_tools_exist
from shared.config import ConfigFileError
from shared.tools import load_tool_catalog
from shared.workflow import WorkflowRegistry


def validate_config(config_dir: Path) -> str:
    """A summary of what was loaded; raises `ConfigFileError` naming file and field."""
    intents = load_intent_catalog(config_dir / "intents.yaml")
    workflows = WorkflowRegistry.load(config_dir / "workflows", known_intents=intents.intents)
    tools = load_tool_catalog(config_dir)
    templates = TemplateStore(config_dir / "prompts")
    check_tools_exist(templates, tools.tools, config_dir / "prompts")
    for workflow in workflows.workflows.values():
        for step_id, step in workflow.steps.items():
            where = f"{workflows.sources.get(workflow.name, config_dir)}: steps.{step_id}.params"
            template = step.params.get("template")
            if step.service == "prompt-builder":
                try:
                    templates.get(str(template))
                except KeyError as exc:
                    raise ConfigFileError(f"{where}.template: {exc.args[0]}") from exc
            call = step.params.get("call")
            if isinstance(call, dict) and call.get("tool") not in tools.tools:
                raise ConfigFileError(f"{where}.call.tool: unknown tool {call.get('tool')!r}")
    return (
        f"ok: {len(intents.intents)} intents, {len(workflows.workflows)} workflows, "
        f"{len(templates.all())} prompt versions, {len(tools.tools)} tools"
    )
