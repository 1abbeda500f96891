"""Agents (`config/agents.yaml`) and the workflow steps they stand for.

An agent is a prompt (with its tools), a model and a policy (its output checks, the
agents it may hand over to). A workflow names agents instead of spelling out their loop:

    steps:
      desk:
        supervisor: {prompt: support_desk, agents: [billing, orders]}
      billing:
        agent: billing
        next: respond

Loading expands each into plain steps (`desk`, `desk.decide`, `desk.check`; `billing`,
`billing.decide`, `billing.act`, `billing.check`), so the router, the services and the
dry run all see one graph. A supervisor's model chooses among its agents; an agent's
model may hand the request to one of its `handoff_to` agents, carrying everything the
request has gathered. Both are bounded by the workflow's `limits.max_delegations`, and
no agent is handed the same request twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

from pydantic import BaseModel, ConfigDict, Field

from shared.config.files import ConfigFileError, load_yaml_model

AGENTS_FILE = "agents.yaml"
DEFAULT_CHECKS = (
    "not_empty",
    "no_pii",
    "grounded",
    "claims_match_actions",
    "complete",
    "states_what_was_asked",
)
# Answers an agent's output check has written again before the template or a person.
DEFAULT_REGENERATE = 1
DEFAULT_MAX_DELEGATIONS = 2

Raw = dict[str, Any]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Grounding(_Strict):
    """Retrieval before the agent's first prompt."""

    top_k: int = Field(default=3, ge=1, le=20)


class AgentSpec(_Strict):
    """One agent. Example: `{description: Refunds, prompt: refund_agent, checks: [no_pii]}`."""

    description: str
    prompt: str
    # A model of config/models.yaml; unset: the models file's routes choose.
    model: str | None = None
    max_tokens: int = Field(default=160, ge=1)
    stream: bool = True
    retrieval: Grounding | None = None
    checks: tuple[str, ...] = DEFAULT_CHECKS
    regenerate: int = Field(default=DEFAULT_REGENERATE, ge=0, le=5)
    handoff_to: tuple[str, ...] = ()


class AgentCatalog(_Strict):
    agents: dict[str, AgentSpec] = Field(default_factory=dict)


class SupervisorSpec(_Strict):
    """A step whose model chooses which of `agents` takes the request, unless the request's
    classified intent (when confident) names one in `by_intent`. Example:
    `{prompt: support_desk, agents: [billing, orders], by_intent: {refund: billing}}`."""

    prompt: str
    agents: tuple[str, ...] = Field(min_length=1)
    # A confident intent picks its agent without asking the model: the embedding classifier
    # reads the customer's main request better than a small model reading a long prompt.
    # The agent it picks keeps the request: it is offered no handover to another agent.
    by_intent: dict[str, str] = Field(default_factory=dict)
    model: str | None = None
    checks: tuple[str, ...] = DEFAULT_CHECKS
    regenerate: int = Field(default=DEFAULT_REGENERATE, ge=0, le=5)


def load_agents(config_dir: Path) -> AgentCatalog:
    """`<config_dir>/agents.yaml`, or no agents when the file is absent."""
    path = config_dir / AGENTS_FILE
    if not path.exists():
        return AgentCatalog()
    catalog = load_yaml_model(path, AgentCatalog)
    for name, agent in catalog.agents.items():
        unknown = sorted(set(agent.handoff_to) - set(catalog.agents))
        if unknown:
            raise ConfigFileError(f"{path}: agents.{name}.handoff_to: unknown agent(s) {unknown}")
    return catalog


class _Expander:
    """Rewrites one raw workflow's agent and supervisor steps into plain steps."""

    def __init__(self, raw: Raw, agents: AgentCatalog, source: Path) -> None:
        self._raw = raw
        self._agents = agents
        self._source = source
        steps = raw.get("steps")
        self._steps: Mapping[str, Raw] = steps if isinstance(steps, dict) else {}
        limits = raw.get("limits") or {}
        self._max_delegations = int(limits.get("max_delegations", DEFAULT_MAX_DELEGATIONS))
        # Where each agent of this workflow starts: its step's id.
        self._entry = {
            step["agent"]: step_id
            for step_id, step in self._steps.items()
            if isinstance(step, dict) and "agent" in step
        }
        # The intents with which a supervisor hands each agent the request, confident.
        self._chosen_by: dict[str, list[str]] = {}
        for step in self._steps.values():
            by_intent = (
                step.get("supervisor", {}).get("by_intent", {}) if isinstance(step, dict) else {}
            )
            for intent, agent in by_intent.items() if isinstance(by_intent, dict) else ():
                self._chosen_by.setdefault(str(agent), []).append(str(intent))

    def expand(self) -> Raw:
        expanded: Raw = {}
        for step_id, step in self._steps.items():
            if isinstance(step, dict) and "agent" in step:
                expanded.update(self._agent_steps(step_id, step))
            elif isinstance(step, dict) and "supervisor" in step:
                expanded.update(self._supervisor_steps(step_id, step))
            else:
                expanded[step_id] = step
        return {**self._raw, "steps": expanded}

    def _agent_steps(self, step_id: str, step: Raw) -> dict[str, Raw]:
        name = step["agent"]
        agent = self._agents.agents.get(name)
        if agent is None:
            self._fail(f"steps.{step_id}.agent", f"unknown agent {name!r}")
        extra = sorted(set(step) - {"agent", "next"})
        if extra:
            self._fail(f"steps.{step_id}", f"an agent step takes only `agent` and `next`: {extra}")
        after = step.get("next", "respond")
        if not isinstance(after, str):
            self._fail(f"steps.{step_id}.next", "an agent step's next is one target")
        draft = f"{step_id}.draft" if agent.retrieval else step_id
        steps: dict[str, Raw] = {}
        if agent.retrieval:
            steps[step_id] = {
                "service": "retrieval",
                "params": {"top_k": agent.retrieval.top_k},
                "next": draft,
            }
        params = self._prompt_params(agent.prompt, agent.handoff_to)
        if agent.handoff_to and name in self._chosen_by:
            params["keep_when_intent"] = self._chosen_by[name]
        steps[draft] = {"service": "prompt-builder", "params": params, "next": f"{step_id}.decide"}
        steps[f"{step_id}.decide"] = {
            "service": "inference",
            "params": self._model_params(agent.model, agent.max_tokens, stream=agent.stream),
            "next": [
                {"when": {"has_tool_calls": True}, "to": f"{step_id}.act"},
                *self._delegation_edges(f"steps.{step_id}", agent.handoff_to),
                {"to": f"{step_id}.check"},
            ],
        }
        steps[f"{step_id}.act"] = {
            "service": "tool-executor",
            "next": [{"when": {"tool_error": True}, "to": "handoff"}, {"to": draft}],
        }
        steps[f"{step_id}.check"] = self._check_step(agent.checks, agent.regenerate, draft, after)
        return steps

    def _supervisor_steps(self, step_id: str, step: Raw) -> dict[str, Raw]:
        try:
            supervisor = SupervisorSpec.model_validate(step["supervisor"])
        except ValueError as exc:
            self._fail(f"steps.{step_id}.supervisor", str(exc))
        after = step.get("next", "respond")
        return {
            step_id: {
                "service": "prompt-builder",
                "params": self._prompt_params(supervisor.prompt, supervisor.agents),
                "next": [
                    *self._intent_edges(f"steps.{step_id}.supervisor.by_intent", supervisor),
                    {"to": f"{step_id}.decide"},
                ],
            },
            f"{step_id}.decide": {
                "service": "inference",
                "params": self._model_params(supervisor.model, 80, stream=False),
                "next": [
                    *self._delegation_edges(f"steps.{step_id}.supervisor", supervisor.agents),
                    {"to": f"{step_id}.check"},
                ],
            },
            f"{step_id}.check": self._check_step(
                supervisor.checks, supervisor.regenerate, step_id, after
            ),
        }

    def _prompt_params(self, prompt: str, delegates: tuple[str, ...]) -> Raw:
        params: Raw = {"template": prompt}
        if delegates:
            params["delegates"] = {
                name: self._agents.agents[name].description for name in delegates
            }
            params["max_delegations"] = self._max_delegations
        return params

    @staticmethod
    def _model_params(model: str | None, max_tokens: int, *, stream: bool) -> Raw:
        params: Raw = {"max_tokens": max_tokens, "stream": stream}
        if model is not None:
            params["model"] = model
        return params

    def _intent_edges(self, where: str, supervisor: SupervisorSpec) -> list[Raw]:
        edges = []
        for intent, agent in supervisor.by_intent.items():
            if agent not in supervisor.agents or agent not in self._entry:
                self._fail(f"{where}.{intent}", f"agent {agent!r} is not among `agents`")
            edges.append({"when": {"intent": intent}, "to": self._entry[agent]})
        return edges

    def _delegation_edges(self, where: str, delegates: tuple[str, ...]) -> list[Raw]:
        edges = []
        for name in delegates:
            if name not in self._agents.agents:
                self._fail(where, f"unknown agent {name!r}")
            if name not in self._entry:
                self._fail(where, f"agent {name!r} has no step in this workflow (`agent: {name}`)")
            edges.append({"when": {"delegate_to": name}, "to": self._entry[name]})
        return edges

    @staticmethod
    def _check_step(checks: tuple[str, ...], regenerate: int, draft: str, after: str) -> Raw:
        """The output check: pass on, write the answer again from `draft`, or a person."""
        edges: list[Raw] = [{"when": {"verdict": "pass"}, "to": after}]
        if regenerate:
            edges.append({"when": {"verdict": "regenerate"}, "to": draft})
        return {
            "service": "guardrail",
            "params": {"stage": "output", "checks": list(checks), "regenerate": regenerate},
            "next": [*edges, {"to": "handoff"}],
        }

    def _fail(self, where: str, message: str) -> NoReturn:
        raise ConfigFileError(f"{self._source}: {where}: {message}")


def expand_agent_steps(raw: Any, agents: AgentCatalog, source: Path) -> Any:
    """`raw` (a workflow file's data) with agent and supervisor steps expanded."""
    if not isinstance(raw, dict):
        return raw
    return _Expander(raw, agents, source).expand()
