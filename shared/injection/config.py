"""`config/guardrails.yaml`: how prompt injection is screened, and the labelled phrasings
the classifier compares against (JSON lines, `{"text", "label", "source"}`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.config import ConfigFileError, load_yaml_model

Part = Literal["heuristics", "classifier"]
Label = Literal["attack", "benign"]

GUARDRAILS_FILE = "guardrails.yaml"


class ClassifierConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Labelled attack and benign phrasings, relative to the config directory.
    examples: str = Field(min_length=1)
    # An intent catalog (relative to the config directory) whose examples, and out-of-scope
    # examples, join the benign phrasings: they are the messages the product exists to
    # answer, and without them plain refund requests sit near refund-themed attacks.
    intent_examples: str | None = None
    # Neighbours of each label whose mean cosine is compared.
    neighbours: int = Field(default=3, ge=1, le=25)


class UserInputPolicy(BaseModel):
    """`block` ends the request (INPUT_REJECTED), `strip` removes the offending sentences
    and goes on, `flag` records the finding and goes on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Literal["block", "strip", "flag"] = "block"
    threshold: float = Field(ge=-1.0, le=1.0)


class RetrievedPolicy(BaseModel):
    """`drop` leaves the chunk out of the prompt, `strip` removes its offending sentences,
    `flag` records the finding and keeps the chunk."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Literal["drop", "strip", "flag"] = "drop"
    threshold: float = Field(ge=-1.0, le=1.0)


class InjectionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    parts: tuple[Part, ...] = Field(default=("heuristics", "classifier"), min_length=1)
    classifier: ClassifierConfig
    user_input: UserInputPolicy
    retrieved: RetrievedPolicy


class GuardrailsConfig(BaseModel):
    """Example file: `config/guardrails.yaml`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    injection: InjectionConfig


class LabelledText(BaseModel):
    """One line of a labelled set: `{"text": "...", "label": "attack", "source": "tool_abuse"}`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(min_length=1)
    label: Label
    source: str = Field(min_length=1)


class _IntentExamples(BaseModel):
    """Only the examples of an intent catalog; the intent service validates the rest."""

    class Intent(BaseModel):
        examples: list[str]

    intents: dict[str, Intent]
    out_of_scope: list[str] = Field(default_factory=list)


def load_guardrails_config(config_dir: Path) -> GuardrailsConfig:
    return load_yaml_model(config_dir / GUARDRAILS_FILE, GuardrailsConfig)


def load_references(config_dir: Path, config: ClassifierConfig) -> list[LabelledText]:
    """The classifier's labelled phrasings: the examples file, then the intent catalog's
    examples as benign ones (source `intent:<name>`, or `intent:out_of_scope`)."""
    where = f"{config_dir / GUARDRAILS_FILE}: injection.classifier"
    try:
        references = load_labelled(config_dir / config.examples)
    except ConfigFileError as exc:
        raise ConfigFileError(f"{where}.examples: {exc}") from exc
    if config.intent_examples is not None:
        try:
            catalog = load_yaml_model(config_dir / config.intent_examples, _IntentExamples)
        except ConfigFileError as exc:
            raise ConfigFileError(f"{where}.intent_examples: {exc}") from exc
        groups = {name: intent.examples for name, intent in catalog.intents.items()}
        groups["out_of_scope"] = catalog.out_of_scope
        references += [
            LabelledText(text=text, label="benign", source=f"intent:{name}")
            for name, texts in groups.items()
            for text in texts
        ]
    return references


def load_labelled(path: Path) -> list[LabelledText]:
    """Every line of a JSON-lines labelled set; errors name file, line and field."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigFileError(f"{path}: cannot read: {exc}") from exc
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rows.append(LabelledText.model_validate(json.loads(line)))
        except json.JSONDecodeError as exc:
            raise ConfigFileError(f"{path}:{number}: not valid JSON: {exc}") from exc
        except ValidationError as exc:
            fields = ", ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(line)'}: {e['msg']}"
                for e in exc.errors()
            )
            raise ConfigFileError(f"{path}:{number}: {fields}") from exc
    return rows
