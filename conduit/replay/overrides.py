"""What a replay changes, applied the way a deployment would: as configuration.

The replay runs on a copy of the config directory, with an optional overlay laid over it
(new prompt versions, a workflow file of another version, a models file). A prompt
override pins the template's version in every step that renders it (`params.template:
refund_agent@2`, agents' and supervisors' `prompt`); a model override pins the model in
every inference step (`params.model`, agents' and supervisors' `model`), as an agent's
own model is pinned. Nothing here changes the files the services read.

Example::

    overrides = ReplayOverrides(prompts={"refund_agent": "2"}, overlay=Path("my-config"))
    config = prepare_config(Path("config"), overrides, Path(tmp))
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from services.inference.routing import load_model_catalog
from services.prompt_builder.templates import TemplateStore
from shared.config import ConfigFileError

MODELS_FILE = "models.yaml"
AGENTS_FILE = "agents.yaml"


class OverrideError(ValueError):
    """An override names a prompt version, label or model the configuration lacks."""


@dataclass(frozen=True)
class ReplayOverrides:
    """`prompts`: template name to a version number or label. `model`: a models-file entry
    for every inference step. `models_file`: the catalog to use (default: the replay
    config's models.yaml once `model` is given; neither: the inference settings')."""

    prompts: Mapping[str, str] = field(default_factory=dict)
    model: str | None = None
    models_file: Path | None = None
    overlay: Path | None = None

    def describe(self) -> str:
        parts = [f"prompt {name}={version}" for name, version in sorted(self.prompts.items())]
        if self.model is not None:
            parts.append(f"model {self.model}")
        if self.models_file is not None:
            parts.append(f"models file {self.models_file}")
        if self.overlay is not None:
            parts.append(f"config overlay {self.overlay}")
        return ", ".join(parts) or "none"


def parse_prompt_override(text: str) -> tuple[str, str]:
    """`refund_agent=2` or `refund_agent=<label>` as (template, version or label)."""
    name, separator, version = text.partition("=")
    if not (separator and name.strip() and version.strip()):
        raise OverrideError(f"prompt override {text!r} is not <template>=<version or label>")
    return name.strip(), version.strip()


def prepare_config(base: Path, overrides: ReplayOverrides, into: Path) -> Path:
    """A config directory under `into`: `base`, the overlay over it, the pins applied."""
    config = into / "config"
    shutil.copytree(base, config)
    if overrides.overlay is not None:
        shutil.copytree(overrides.overlay, config, dirs_exist_ok=True)
    prompt_pins = _resolve_prompts(config, overrides.prompts)
    if overrides.model is not None:
        _check_model(models_file_for(config, overrides), overrides.model)
    pins = _Pins(prompt_pins, overrides.model)
    for path in sorted((config / "workflows").rglob("*.yaml")):
        _rewrite(path, pins.workflow)
    if (config / AGENTS_FILE).is_file():
        _rewrite(config / AGENTS_FILE, pins.agents)
    return config


def models_file_for(config: Path, overrides: ReplayOverrides) -> Path | None:
    if overrides.models_file is not None:
        return overrides.models_file
    return config / MODELS_FILE if overrides.model is not None else None


def _resolve_prompts(config: Path, prompts: Mapping[str, str]) -> dict[str, int]:
    if not prompts:
        return {}
    store = TemplateStore(config / "prompts")
    pinned = {}
    for name, wanted in prompts.items():
        versions = [t for t in store.all() if t.template.name == name]
        if not versions:
            raise OverrideError(f"no prompt template {name!r}; known: {store.names()}")
        matches = [
            t.template.version
            for t in versions
            if str(t.template.version) == wanted.removeprefix("v") or t.template.label == wanted
        ]
        if not matches:
            known = "; ".join(f"{t.template.version} ({t.template.label!r})" for t in versions)
            raise OverrideError(f"prompt {name!r} has no version or label {wanted!r}: {known}")
        pinned[name] = matches[0]
    return pinned


def _check_model(models_file: Path | None, model: str) -> None:
    if models_file is None or not models_file.is_file():
        raise OverrideError(f"model override {model!r} needs a models file; {models_file} is none")
    try:
        catalog = load_model_catalog(models_file)
    except ConfigFileError as exc:
        raise OverrideError(str(exc)) from exc
    if model not in catalog.models:
        raise OverrideError(
            f"{models_file} has no model {model!r}; known: {sorted(catalog.models)}"
        )


@dataclass(frozen=True)
class _Pins:
    prompts: Mapping[str, int]
    model: str | None

    def template(self, reference: Any) -> Any:
        name = str(reference).partition("@")[0]
        return f"{name}@{self.prompts[name]}" if name in self.prompts else reference

    def workflow(self, raw: dict[str, Any]) -> None:
        for step in (raw.get("steps") or {}).values():
            if not isinstance(step, dict):
                continue
            params = step.get("params") or {}
            if step.get("service") == "prompt-builder" and "template" in params:
                params["template"] = self.template(params["template"])
            if step.get("service") == "inference" and self.model is not None:
                params["model"] = self.model
            if params:
                step["params"] = params
            if isinstance(step.get("supervisor"), dict):
                self._speaker(step["supervisor"])

    def agents(self, raw: dict[str, Any]) -> None:
        for agent in (raw.get("agents") or {}).values():
            if isinstance(agent, dict):
                self._speaker(agent)

    def _speaker(self, spec: dict[str, Any]) -> None:
        """An agent or supervisor: its prompt and its model."""
        if "prompt" in spec:
            spec["prompt"] = self.template(spec["prompt"])
        if self.model is not None:
            spec["model"] = self.model


def _rewrite(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if isinstance(raw, dict):
        change(raw)
        path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
