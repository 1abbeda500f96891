"""The intent catalog (`config/intents.yaml`): intents declared as data, with their examples,
how sure the classifier must be, and how a request's priority is read from its wording."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.config import load_yaml_model

IntentName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
Example = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Cue = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=2)]
OUT_OF_SCOPE = "out_of_scope"
PriorityLevel = Literal["urgent", "high", "normal"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IntentSpec(_Strict):
    description: str = Field(min_length=1)
    examples: list[Example] = Field(min_length=8, max_length=120)


class LanguageSpec(_Strict):
    """The one language the embedder reads; a message identified (py3langid) as another
    with at least `min_probability`, in at least `min_words` words, goes to a person."""

    expected: str = Field(default="en", pattern=r"^[a-z]{2,3}$")
    min_probability: float = Field(default=0.7, gt=0.0, le=1.0)
    min_words: int = Field(default=3, ge=1)


class CharacterNgrams(_Strict):
    """TF-IDF of character n-grams within words, set beside each embedding: they keep the
    wording an embedding blurs (typos, "refund" against "refunded"). Weight 0 leaves them out."""

    smallest: int = Field(default=2, ge=1, le=8)
    largest: int = Field(default=5, ge=1, le=8)
    weight: float = Field(default=1.0, ge=0.0, le=10.0)

    @model_validator(mode="after")
    def _sizes_in_order(self) -> CharacterNgrams:
        if self.largest < self.smallest:
            raise ValueError("largest: must be at least `smallest`")
        return self


class ClassifierSpec(_Strict):
    """Logistic regression over the examples' embeddings (and character n-grams); below
    either bar it is unsure."""

    min_probability: float = Field(gt=0.0, lt=1.0, description="to accept the best route")
    min_margin: float = Field(ge=0.0, lt=1.0, description="best minus runner-up probability")
    regularisation: float = Field(gt=0.0, description="inverse strength (scikit-learn's C)")
    temperature: float = Field(
        default=1.0, gt=0.0, le=10.0, description="divides the scores before the softmax"
    )
    max_chars: int = Field(default=2000, ge=50, description="longer text goes to a person")
    language: LanguageSpec = Field(default_factory=LanguageSpec)
    character_ngrams: CharacterNgrams = Field(default_factory=CharacterNgrams)


class PriorityRule(_Strict):
    """`level` applies when every bound given holds (sentiment is VADER's compound, -1..1)."""

    level: PriorityLevel
    sentiment_at_most: float | None = Field(default=None, ge=-1.0, le=1.0)
    urgency_at_least: float | None = Field(default=None, ge=0.0, le=1.0)


class PrioritySpec(_Strict):
    """Urgency is 0..1: `per_cue` for each cue found, plus `shouting` for `!!` or capitals."""

    urgency_cues: list[Cue] = Field(min_length=1)
    per_cue: float = Field(default=0.5, gt=0.0, le=1.0)
    shouting: float = Field(default=0.25, ge=0.0, le=1.0)
    rules: list[PriorityRule] = Field(min_length=1)

    @model_validator(mode="after")
    def _last_rule_always_applies(self) -> PrioritySpec:
        last = self.rules[-1]
        if last.sentiment_at_most is not None or last.urgency_at_least is not None:
            raise ValueError("rules: the last rule must have no bounds (the default level)")
        return self


class IntentCatalog(_Strict):
    """Intents, the classifier's bars and the priority rules. Example:

    >>> catalog = load_intent_catalog(Path("config/intents.yaml"))  # doctest: +SKIP
    >>> sorted(catalog.intents)  # doctest: +SKIP
    ['escalation', 'order_status', 'product_question', 'refund']
    """

    classifier: ClassifierSpec
    priority: PrioritySpec
    intents: dict[IntentName, IntentSpec] = Field(min_length=2)
    out_of_scope: list[Example] = Field(min_length=8, max_length=120)

    @model_validator(mode="after")
    def _examples_are_unique(self) -> IntentCatalog:
        # A shared example would teach the classifier two answers for one input.
        if OUT_OF_SCOPE in self.intents:
            raise ValueError(f"intents.{OUT_OF_SCOPE}: the name is reserved for `out_of_scope`")
        groups = {f"intents.{name}.examples": spec.examples for name, spec in self.intents.items()}
        groups["out_of_scope"] = self.out_of_scope
        seen: set[str] = set()
        for field, examples in groups.items():
            for example in examples:
                if example.casefold() in seen:
                    raise ValueError(f"{field}: {example!r} is listed twice")
                seen.add(example.casefold())
        return self


def load_intent_catalog(path: Path) -> IntentCatalog:
    return load_yaml_model(path, IntentCatalog)
