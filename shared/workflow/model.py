"""Declarative workflow definitions (`config/workflows/*.yaml`), validated by pydantic.

A workflow is a graph of steps. Each step names the service that runs it and that
service's parameters; its `next` edges say where the request goes afterwards:

    steps:
      decide:
        service: inference
        next:
          - when: {has_tool_calls: true}
            to: act
          - to: check_answer

An edge target is a step id, `respond` (deliver the answer), `handoff` (to a human
queue) or `workflow:<name>` (continue at another workflow's start step).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

ServiceName = Literal[
    "guardrail", "intent", "retrieval", "prompt-builder", "inference", "tool-executor"
]
SERVICE_NAMES: tuple[str, ...] = get_args(ServiceName)
RESPOND = "respond"
HANDOFF = "handoff"
WORKFLOW_PREFIX = "workflow:"
RESERVED_TARGETS = (RESPOND, HANDOFF)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(_Strict):
    """All given fields must hold for the edge to be taken."""

    intent: str | list[str] | None = None
    has_tool_calls: bool | None = None
    verdict: Literal["pass", "reject", "handoff", "regenerate"] | None = None
    tool_error: bool | None = None
    # The request has entities of these kinds (an `email` token, an `order_id`...).
    entity: str | list[str] | None = None
    # The model handed the request to this agent (a supervisor's choice or a handoff).
    delegate_to: str | None = None
    # The request's principal has one of these roles (signed by the gateway, checked by
    # every service before it routes).
    role: str | list[str] | None = None
    # The intent classifier was not sure enough to route (`intent.unsure`).
    unsure: bool | None = None

    def entities(self) -> list[str]:
        if self.entity is None:
            return []
        return [self.entity] if isinstance(self.entity, str) else list(self.entity)

    def intents(self) -> list[str]:
        if self.intent is None:
            return []
        return [self.intent] if isinstance(self.intent, str) else list(self.intent)

    def roles(self) -> list[str]:
        if self.role is None:
            return []
        return [self.role] if isinstance(self.role, str) else list(self.role)


class Edge(_Strict):
    when: Condition | None = None
    to: str


class Step(_Strict):
    service: ServiceName
    params: dict[str, Any] = Field(default_factory=dict)
    next: str | list[Edge]

    @field_validator("next")
    @classmethod
    def _edges_end_with_default(cls, value: str | list[Edge]) -> str | list[Edge]:
        if isinstance(value, list) and (not value or value[-1].when is not None):
            raise ValueError("the last edge must have no `when` (the default route)")
        return value

    def edges(self) -> list[Edge]:
        return [Edge(to=self.next)] if isinstance(self.next, str) else list(self.next)

    def edge_field(self, step_id: str, index: int) -> str:
        """Where edge `index` of this step is written in its file, for error messages."""
        if isinstance(self.next, str):
            return f"steps.{step_id}.next"
        return f"steps.{step_id}.next.{index}"


class Limits(_Strict):
    max_steps: int = Field(default=16, ge=1, le=200)
    # Handovers between agents a request may take (supervisor choices and handoffs).
    max_delegations: int = Field(default=2, ge=0, le=20)


class Workflow(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    version: str
    description: str = ""
    start: str
    limits: Limits = Field(default_factory=Limits)
    steps: dict[str, Step]
    _content_hash: str = PrivateAttr(default="")

    def model_post_init(self, context: Any, /) -> None:
        # Over the definition as validated (agent steps expanded), not the file's bytes:
        # what routes the request is what the version must pin.
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        self._content_hash = hashlib.sha256(canonical.encode()).hexdigest()[:10]

    @property
    def content_hash(self) -> str:
        return self._content_hash

    @property
    def version_id(self) -> str:
        """`<version>+<content hash>`, as a prompt template's `version_id`."""
        return f"{self.version}+{self._content_hash}"

    @model_validator(mode="after")
    def _targets_exist(self) -> Workflow:
        # Errors start with the field path: a model validator's own location is the top level.
        if self.start not in self.steps:
            raise ValueError(f"start: step {self.start!r} is not among steps")
        for step_id, step in self.steps.items():
            if step_id in RESERVED_TARGETS:
                raise ValueError(f"steps.{step_id}: step id {step_id!r} is reserved")
            for index, edge in enumerate(step.edges()):
                target = edge.to
                if target in RESERVED_TARGETS or target.startswith(WORKFLOW_PREFIX):
                    continue
                if target not in self.steps:
                    where = step.edge_field(step_id, index)
                    raise ValueError(f"{where}: step {step_id!r} routes to unknown step {target!r}")
        return self

    @model_validator(mode="after")
    def _regenerations_have_a_route(self) -> Workflow:
        for step_id, step in self.steps.items():
            regenerate = step.params.get("regenerate", 0)
            if step.service != "guardrail" or not regenerate:
                continue
            routed = any(
                e.when is not None and e.when.verdict == "regenerate" for e in step.edges()
            )
            if not routed:
                raise ValueError(
                    f"steps.{step_id}.params.regenerate: {regenerate} tries need an edge "
                    "`when: {verdict: regenerate}` back to the step that writes the prompt"
                )
        return self
