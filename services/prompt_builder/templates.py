"""Versioned prompt templates kept as files: `config/prompts/<name>/v<version>.yaml`.

A template's identity is its name plus version; its `version_id` adds a content hash,
so every event records exactly which text the model saw.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from string import Formatter
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.agent import placeholders
from shared.config import ConfigFileError, load_yaml_model

# A fallback's `{source.title}` and `{source.excerpt}` read the best retrieved chunk it cites.
SOURCE_SLOT = "source"
_SLOT = re.compile(r"^[a-z_][a-z0-9_.]*$")


class Example(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    user: str
    assistant: str


class Fallback(BaseModel):
    """A deterministic answer, rendered from the request's tool results and sources when
    the model's answers keep failing their checks. It fits when every `when` field
    (`tool.field` of a successful call) has the given value, every `{slot}` of its text
    resolves, and a chunk of each document it `cite`s was retrieved (`{source.title}` and
    `{source.excerpt}` read the best of those chunks; `{source.passage}` is the retrieved
    passage closest to the question, where the retrieval step picked one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    when: dict[str, str | int | float | bool] = Field(default_factory=dict)
    text: str = Field(min_length=1)
    cite: list[str] = Field(default_factory=list)


class RequiredSlot(BaseModel):
    """A slot an answer must state only when every `when` field (`tool.field` of a
    successful call) has the given value. Example: a refusal says why,
    `{slot: check_refund_policy.reason, when: {check_refund_policy.eligible: false}}`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slot: str = Field(min_length=1)
    when: dict[str, str | int | float | bool] = Field(default_factory=dict)


class AnswerSpec(BaseModel):
    """How the answer states facts. `slots: true`: only as `{slot}` references to this
    request's tool results (the text may hold no digit of its own); `fallbacks`: the
    template answers, first that fits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slots: bool = False
    # Slots an answer must state when the request has them ("status"): what was asked.
    must_state: list[str | RequiredSlot] = Field(default_factory=list)
    fallbacks: list[Fallback] = Field(default_factory=list)

    def required_slots(self) -> list[RequiredSlot]:
        return [RequiredSlot(slot=r) if isinstance(r, str) else r for r in self.must_state]

    def must_state_now(self, slots: Collection[str], results: Mapping[str, object]) -> list[str]:
        """The slots this request's answer must state: those it has, whose `when` holds."""
        missing = object()
        return [
            required.slot
            for required in self.required_slots()
            if required.slot in slots
            and all(results.get(key, missing) == value for key, value in required.when.items())
        ]


class PromptTemplate(BaseModel):
    """Example file: see `config/prompts/refund_agent/v1.yaml`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    version: int = Field(ge=1)
    label: str = ""
    # agent: tool calls, handovers and an answer; answer: an answer (or a handover);
    # choice: only a handover to one of the step's `delegates` (a route, an agent).
    output: Literal["agent", "answer", "choice"]
    tools: list[str] = Field(default_factory=list)
    # The answer is offered only once none of these tools can still be called, so a small
    # model cannot answer before the checks and actions the task needs have run.
    answer_when_done: list[str] = Field(default_factory=list)
    system: str
    examples: list[Example] = Field(default_factory=list)
    max_prompt_tokens: int = Field(default=1500, ge=64)
    max_answer_chars: int = Field(default=400, ge=20)
    answer: AnswerSpec = Field(default_factory=AnswerSpec)


@dataclass(frozen=True)
class LoadedTemplate:
    template: PromptTemplate
    content_hash: str

    @property
    def version_id(self) -> str:
        return f"{self.template.version}+{self.content_hash}"


class TemplateStore:
    """Loads every template once; `get("refund_agent")` is the newest version,
    `get("refund_agent@1")` a pinned one."""

    def __init__(self, directory: Path) -> None:
        self._by_name: dict[str, dict[int, LoadedTemplate]] = {}
        for path in sorted(directory.glob("*/v*.yaml")):
            template = load_yaml_model(path, PromptTemplate)
            if path.parent.name != template.name or path.stem != f"v{template.version}":
                raise ConfigFileError(
                    f"{path}: file must be named {template.name}/v{template.version}.yaml "
                    "after its name and version fields"
                )
            _check_fallback_texts(path, template)
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
            self._by_name.setdefault(template.name, {})[template.version] = LoadedTemplate(
                template, digest
            )
        if not self._by_name:
            raise ConfigFileError(f"{directory}: no prompt templates found")

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def all(self) -> list[LoadedTemplate]:
        return [t for versions in self._by_name.values() for t in versions.values()]

    def get(self, reference: str) -> LoadedTemplate:
        name, _, pinned = reference.partition("@")
        versions = self._by_name.get(name)
        if not versions:
            raise KeyError(f"unknown prompt template {name!r}; known: {self.names()}")
        if not pinned:
            return versions[max(versions)]
        if not pinned.isdigit() or int(pinned) not in versions:
            raise KeyError(
                f"prompt template {name!r} has no version {pinned!r}; known: {sorted(versions)}"
            )
        return versions[int(pinned)]


def _check_fallback_texts(path: Path, template: PromptTemplate) -> None:
    """A fallback's braces must be `{slot}` references and nothing else."""
    for index, fallback in enumerate(template.answer.fallbacks):
        try:
            fields = [name for _, name, _, _ in Formatter().parse(fallback.text) if name]
        except ValueError as exc:
            raise ConfigFileError(f"{path}: answer.fallbacks.{index}.text: {exc}") from exc
        bad = [name for name in fields if not _SLOT.match(name)]
        if bad:
            raise ConfigFileError(
                f"{path}: answer.fallbacks.{index}.text: {bad} are not slot names "
                "(`field`, `tool.field` or `source.title`/`.excerpt`/`.passage`)"
            )


def _fallback_tools(template: PromptTemplate) -> list[tuple[str, list[str]]]:
    """(field, tools named) of each fallback's `when` keys and qualified slots, and of the
    qualified slots an answer must state."""
    named = []
    for index, fallback in enumerate(template.answer.fallbacks):
        keys = [*fallback.when, *(name for name in placeholders(fallback.text) if "." in name)]
        tools = [key.split(".", 1)[0] for key in keys]
        named.append((f"answer.fallbacks.{index}", [t for t in tools if t != SOURCE_SLOT]))
    for index, required in enumerate(template.answer.required_slots()):
        keys = [required.slot, *required.when]
        tools = [key.split(".", 1)[0] for key in keys if "." in key]
        named.append((f"answer.must_state.{index}", tools))
    return named


def check_tools_exist(store: TemplateStore, known_tools: Collection[str], directory: Path) -> None:
    """Every tool a template names must be in the tool catalog."""
    for loaded in store.all():
        template = loaded.template
        for field, names in (
            ("tools", template.tools),
            ("answer_when_done", template.answer_when_done),
            *_fallback_tools(template),
        ):
            unknown = sorted(set(names) - set(known_tools))
            if unknown:
                raise ConfigFileError(
                    f"{directory}/{template.name}/v{template.version}.yaml: "
                    f"{field}: unknown tool(s) {unknown}"
                )
