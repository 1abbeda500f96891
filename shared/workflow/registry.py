"""Loads every workflow file and checks references across files."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shared.config.files import ConfigFileError, read_yaml, validate_model
from shared.workflow.agents import AgentCatalog, expand_agent_steps, load_agents
from shared.workflow.model import WORKFLOW_PREFIX, Workflow

ENTRY_WORKFLOW = "triage"


@dataclass(frozen=True)
class WorkflowRegistry:
    """The workflows a deployment knows, by name. Example:

    >>> registry = WorkflowRegistry.load(Path("config/workflows"))  # doctest: +SKIP
    >>> registry.get("refund").start
    'retrieve_policy'
    """

    workflows: Mapping[str, Workflow]
    entry: str = ENTRY_WORKFLOW
    # The file each workflow was loaded from, so cross-file errors name it.
    sources: Mapping[str, Path] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        directory: Path,
        *,
        known_intents: Iterable[str] = (),
        agents: AgentCatalog | None = None,
    ) -> WorkflowRegistry:
        """Every workflow under `directory`, agent steps expanded with `agents` (default:
        the `agents.yaml` beside the directory)."""
        if not directory.is_dir():
            raise ConfigFileError(f"{directory}: directory not found")
        agents = agents if agents is not None else load_agents(directory.parent)
        by_name: dict[str, Workflow] = {}
        sources: dict[str, Path] = {}
        for path in sorted(directory.rglob("*.yaml")):
            raw = expand_agent_steps(read_yaml(path), agents, path)
            workflow = validate_model(path, raw, Workflow)
            if workflow.name in by_name:
                raise ConfigFileError(
                    f"{path}: name: workflow {workflow.name!r} is already defined in "
                    f"{sources[workflow.name]}"
                )
            by_name[workflow.name] = workflow
            sources[workflow.name] = path
        registry = cls(by_name, sources=sources)
        registry.check(directory, set(known_intents))
        return registry

    def check(self, directory: Path, known_intents: set[str]) -> None:
        if self.entry not in self.workflows:
            raise ConfigFileError(f"{directory}: the entry workflow {self.entry!r} is missing")
        for workflow in self.workflows.values():
            path = self.sources.get(workflow.name, directory / f"{workflow.name}.yaml")
            for step_id, step in workflow.steps.items():
                for index, edge in enumerate(step.edges()):
                    where = f"{path}: {step.edge_field(step_id, index)}"
                    target = edge.to.removeprefix(WORKFLOW_PREFIX)
                    if edge.to.startswith(WORKFLOW_PREFIX) and target not in self.workflows:
                        raise ConfigFileError(f"{where}: unknown workflow {target!r}")
                    unknown = set(edge.when.intents() if edge.when else []) - known_intents
                    if known_intents and unknown:
                        raise ConfigFileError(f"{where}: unknown intent(s) {sorted(unknown)}")

    def get(self, name: str) -> Workflow | None:
        return self.workflows.get(name)
