"""The intent catalog (`config/intents.yaml`): intents declared as data, with their examples."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.config import load_yaml_model

IntentName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
Example = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IntentSpec(_Strict):
    description: str = Field(min_length=1)
    examples: list[Example] = Field(min_length=8, max_length=15)


class IntentCatalog(_Strict):
    """Intents plus the decision thresholds. Example:

    >>> catalog = load_intent_catalog(Path("config/intents.yaml"))  # doctest: +SKIP
    >>> sorted(catalog.intents)  # doctest: +SKIP
    ['order_status', 'product_question', 'refund']
    """

    threshold: float = Field(ge=-1.0, le=1.0, description="minimum cosine to accept the best")
    margin: float = Field(ge=0.0, le=2.0, description="minimum gap between best and runner-up")
    intents: dict[IntentName, IntentSpec] = Field(min_length=2)
    out_of_scope: list[Example] = Field(default_factory=list, max_length=30)

    @model_validator(mode="after")
    def _examples_are_unique(self) -> IntentCatalog:
        # A shared example would pull two centroids together and blur both.
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
