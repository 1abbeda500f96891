"""Which model answers a step: declarative routes over named models, with fallbacks.

`config/models.yaml` names the models (backend, endpoint, context window, prices per 1k
tokens) and the routes: the first route whose `when` matches the step (by intent, step
id, prompt size) picks a model and the ordered fallbacks tried when it is unavailable.
A circuit breaker per model skips one that keeps failing, so fallbacks answer at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.inference.backends.base import (
    BackendRejected,
    BackendUnavailable,
    DeltaSink,
    Generation,
    GenerationRequest,
    ModelBackend,
)
from services.inference.circuit import CircuitBreaker
from shared.config.files import load_yaml_model

BackendKind = Literal["llama_cpp", "triton", "openai", "scripted"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSpec(_Strict):
    """One model conduit can call. `url`/`model` address remote backends; the API key of an
    OpenAI-compatible endpoint is read from the environment variable `api_key_env`."""

    backend: BackendKind
    url: str | None = None
    model: str | None = None
    api_key_env: str | None = None
    # How an OpenAI-compatible endpoint takes a JSON schema: `json_schema` (OpenAI, vLLM,
    # llama.cpp's llama-server, Ollama) or `json_object` (llama-cpp-python's server).
    schema_format: Literal["json_schema", "json_object"] = "json_schema"
    timeout_s: float = Field(default=60.0, gt=0)
    context_tokens: int = Field(default=4096, ge=256)
    price_per_1k_input_usd: float = Field(default=0.0, ge=0)
    price_per_1k_output_usd: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _remote_needs_url(self) -> ModelSpec:
        if self.backend in ("triton", "openai") and not (self.url and self.model):
            raise ValueError(f"a {self.backend} model needs both url and model")
        return self

    def cost_usd(self, input_tokens: int, output_tokens: int) -> float:
        return (
            input_tokens * self.price_per_1k_input_usd
            + output_tokens * self.price_per_1k_output_usd
        ) / 1000


class RouteWhen(_Strict):
    """All given conditions must hold; an empty `when` matches every step."""

    intents: tuple[str, ...] = ()
    steps: tuple[str, ...] = ()
    min_prompt_tokens: int | None = Field(default=None, ge=0)
    max_prompt_tokens: int | None = Field(default=None, ge=0)

    def matches(self, *, intent: str, step: str, prompt_tokens: int) -> bool:
        return (
            (not self.intents or intent in self.intents)
            and (not self.steps or step in self.steps)
            and (self.min_prompt_tokens is None or prompt_tokens >= self.min_prompt_tokens)
            and (self.max_prompt_tokens is None or prompt_tokens <= self.max_prompt_tokens)
        )

    def describe(self) -> str:
        parts = [f"intent in {list(self.intents)}"] if self.intents else []
        parts += [f"step in {list(self.steps)}"] if self.steps else []
        if self.min_prompt_tokens is not None:
            parts.append(f"prompt >= {self.min_prompt_tokens} tokens")
        if self.max_prompt_tokens is not None:
            parts.append(f"prompt <= {self.max_prompt_tokens} tokens")
        return " and ".join(parts) or "default"


class Route(_Strict):
    name: str
    when: RouteWhen = Field(default_factory=RouteWhen)
    model: str
    fallbacks: tuple[str, ...] = ()


class CircuitSettings(_Strict):
    failure_threshold: int = Field(default=3, ge=1)
    reset_after_s: float = Field(default=30.0, gt=0)


class ModelCatalog(_Strict):
    models: dict[str, ModelSpec]
    routes: tuple[Route, ...]
    circuit: CircuitSettings = Field(default_factory=CircuitSettings)

    @model_validator(mode="after")
    def _routes_are_complete(self) -> ModelCatalog:
        for index, route in enumerate(self.routes):
            for name in (route.model, *route.fallbacks):
                if name not in self.models:
                    raise ValueError(f"routes[{index}] ({route.name}) names unknown model {name!r}")
        if not self.routes or self.routes[-1].when != RouteWhen():
            raise ValueError("the last route must have no `when`: it is the default")
        return self

    def choose(self, *, intent: str, step: str, prompt_tokens: int) -> RouteChoice:
        for route in self.routes:
            if route.when.matches(intent=intent, step=step, prompt_tokens=prompt_tokens):
                return RouteChoice(route, f"route {route.name}: {route.when.describe()}")
        raise AssertionError("unreachable: the last route matches everything")

    def pinned(self, model: str) -> RouteChoice:
        """A route to `model` alone, for a step that names its model; `KeyError` if unknown."""
        if model not in self.models:
            raise KeyError(f"unknown model {model!r}; known: {sorted(self.models)}")
        return RouteChoice(Route(name=f"pinned:{model}", model=model), "the step names its model")


def load_model_catalog(path: Path) -> ModelCatalog:
    """The catalog in `path`; errors name the file and field."""
    return load_yaml_model(path, ModelCatalog)


def single_model_catalog(name: str, spec: ModelSpec) -> ModelCatalog:
    """One model, one default route: the set-up when no models file is configured."""
    return ModelCatalog(models={name: spec}, routes=(Route(name="default", model=name),))


@dataclass(frozen=True)
class RouteChoice:
    route: Route
    reason: str


@dataclass(frozen=True)
class Routed:
    """A generation with the model that produced it and the ones that failed before."""

    generation: Generation
    model: str
    spec: ModelSpec
    tried: tuple[str, ...]  # "<model>: <why it was skipped>", in order


class AllModelsUnavailable(BackendUnavailable):
    """Every model of the route failed or had its circuit open."""


class RequestRejected(BackendRejected):
    """The chosen model refused the request itself; another model would not fare better."""


SinkFactory = Callable[[str], DeltaSink | None]


class ModelRouter:
    """Runs a generation on the route's model, falling back in order when it is unavailable.

    >>> router = ModelRouter(catalog, backends)  # doctest: +SKIP
    >>> routed = await router.generate(choice, request, sink_for)  # doctest: +SKIP
    """

    def __init__(
        self,
        catalog: ModelCatalog,
        backends: Mapping[str, ModelBackend],
        *,
        breaker_factory: Callable[[], CircuitBreaker] | None = None,
    ) -> None:
        self.catalog = catalog
        self._backends = dict(backends)
        make_breaker = breaker_factory or (
            lambda: CircuitBreaker(
                failure_threshold=catalog.circuit.failure_threshold,
                reset_after_s=catalog.circuit.reset_after_s,
            )
        )
        self._breakers = {name: make_breaker() for name in catalog.models}

    def breaker(self, model: str) -> CircuitBreaker:
        return self._breakers[model]

    def warm_up(self) -> None:
        """Load local models and open connections before the first request."""
        for backend in self._backends.values():
            backend.warm_up()

    async def generate(
        self,
        choice: RouteChoice,
        request: GenerationRequest,
        sink_for: SinkFactory,
        *,
        prompt_tokens: int,
    ) -> Routed:
        """Try the route's model, then its fallbacks; `sink_for(model)` gives each attempt
        a fresh place to stream to (or None)."""
        tried: list[str] = []
        for name in (choice.route.model, *choice.route.fallbacks):
            spec = self.catalog.models[name]
            if prompt_tokens + request.max_tokens > spec.context_tokens:
                tried.append(f"{name}: prompt does not fit its {spec.context_tokens}-token context")
                continue
            breaker = self._breakers[name]
            if not breaker.allows():
                tried.append(f"{name}: circuit open")
                continue
            try:
                generation = await self._backends[name].generate(request, sink_for(name))
            except BackendRejected as exc:
                breaker.succeeded()  # it answered: healthy, just unwilling
                raise RequestRejected(f"{name} rejected the request: {exc}") from exc
            except BackendUnavailable as exc:
                breaker.failed()
                tried.append(f"{name}: {exc}")
                continue
            breaker.succeeded()
            return Routed(generation, name, spec, tuple(tried))
        if all("does not fit" in reason for reason in tried):
            raise RequestRejected(f"no model of {choice.route.name} can take it: {tried}")
        raise AllModelsUnavailable(f"every model of {choice.route.name} failed: {tried}")
