"""Model routing: routes pick a model by intent, step and prompt size; fallbacks take over
when a model is unavailable; circuit breakers skip a failing one; refusals are final."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from services.inference.backends.base import (
    BackendRejected,
    BackendUnavailable,
    DeltaSink,
    Generation,
    GenerationRequest,
)
from services.inference.circuit import CircuitBreaker
from services.inference.routing import (
    AllModelsUnavailable,
    ModelCatalog,
    ModelRouter,
    RequestRejected,
    load_model_catalog,
)
from shared.config import ConduitSettings, ConfigFileError
from shared.models.chat import ChatMessage

REQUEST = GenerationRequest(messages=[ChatMessage(role="user", content="hi")], max_tokens=50)


@dataclass
class StubBackend:
    """Answers, or fails with `error`; counts its calls (routing logic only)."""

    name: str
    error: Exception | None = None
    calls: int = 0
    sinks: list[DeltaSink | None] = field(default_factory=list)

    def warm_up(self) -> None:
        pass

    async def generate(
        self, request: GenerationRequest, on_delta: DeltaSink | None = None
    ) -> Generation:
        self.calls += 1
        self.sinks.append(on_delta)
        if self.error is not None:
            raise self.error
        return Generation(
            text="ok", input_tokens=3, output_tokens=1, finish_reason="stop", model=self.name
        )


def catalog(**overrides: object) -> ModelCatalog:
    data: dict[str, object] = {
        "models": {
            "small": {"backend": "scripted", "context_tokens": 1024},
            "strong": {
                "backend": "openai",
                "url": "http://llm:8000/v1",
                "model": "big",
                "context_tokens": 8192,
                "price_per_1k_input_usd": 0.5,
            },
            "backup": {"backend": "scripted", "context_tokens": 4096},
        },
        "routes": [
            {"name": "refunds", "when": {"intents": ["refund"]}, "model": "strong",
             "fallbacks": ["backup"]},
            {"name": "long", "when": {"min_prompt_tokens": 900}, "model": "strong"},
            {"name": "default", "model": "small", "fallbacks": ["backup"]},
        ],
        "circuit": {"failure_threshold": 2, "reset_after_s": 30},
    }  # fmt: skip
    data.update(overrides)
    return ModelCatalog.model_validate(data)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def router(backends: dict[str, StubBackend], clock: Clock | None = None) -> ModelRouter:
    tick = clock or Clock()
    return ModelRouter(
        catalog(),
        backends,
        breaker_factory=lambda: CircuitBreaker(failure_threshold=2, reset_after_s=30, clock=tick),
    )


def backends(**errors: Exception) -> dict[str, StubBackend]:
    return {name: StubBackend(name, errors.get(name)) for name in ("small", "strong", "backup")}


@pytest.mark.parametrize(
    ("intent", "step", "tokens", "route"),
    [
        ("refund", "decide", 10, "refunds"),
        ("product_question", "answer", 950, "long"),
        ("product_question", "answer", 10, "default"),
    ],
)
def test_the_first_matching_route_chooses(intent: str, step: str, tokens: int, route: str) -> None:
    choice = catalog().choose(intent=intent, step=step, prompt_tokens=tokens)
    assert choice.route.name == route, choice
    assert route in choice.reason, f"the reason must name the route: {choice.reason}"


async def test_an_unavailable_model_falls_back_and_the_reason_is_kept() -> None:
    stubs = backends(strong=BackendUnavailable("connection refused"))
    choice = catalog().choose(intent="refund", step="decide", prompt_tokens=10)

    routed = await router(stubs).generate(choice, REQUEST, lambda _: None, prompt_tokens=10)

    assert routed.model == "backup", routed
    assert routed.tried == ("strong: connection refused",), routed.tried


async def test_each_attempt_gets_its_own_stream_sink() -> None:
    stubs = backends(strong=BackendUnavailable("down"))
    asked: list[str] = []

    def sink_for(model: str) -> DeltaSink | None:
        asked.append(model)
        return None

    choice = catalog().choose(intent="refund", step="decide", prompt_tokens=10)
    await router(stubs).generate(choice, REQUEST, sink_for, prompt_tokens=10)

    assert asked == ["strong", "backup"], "a fallback must not reuse the failed stream"


async def test_a_model_failing_repeatedly_is_skipped_while_its_circuit_is_open() -> None:
    stubs = backends(strong=BackendUnavailable("timeout"))
    clock = Clock()
    routing = router(stubs, clock)
    choice = catalog().choose(intent="refund", step="decide", prompt_tokens=10)
    for _ in range(2):
        await routing.generate(choice, REQUEST, lambda _: None, prompt_tokens=10)

    routed = await routing.generate(choice, REQUEST, lambda _: None, prompt_tokens=10)

    assert stubs["strong"].calls == 2, "an open circuit must not be called"
    assert routed.tried == ("strong: circuit open",), routed.tried
    clock.now = 31.0
    stubs["strong"].error = None
    recovered = await routing.generate(choice, REQUEST, lambda _: None, prompt_tokens=10)
    assert recovered.model == "strong", "after the reset time one trial must go through"


async def test_a_refused_request_is_not_retried_on_fallbacks() -> None:
    stubs = backends(strong=BackendRejected("invalid temperature"))
    choice = catalog().choose(intent="refund", step="decide", prompt_tokens=10)

    with pytest.raises(RequestRejected, match="invalid temperature"):
        await router(stubs).generate(choice, REQUEST, lambda _: None, prompt_tokens=10)
    assert stubs["backup"].calls == 0, "a refusal is about the request: fallbacks would refuse too"


async def test_a_prompt_too_long_for_a_model_goes_to_one_whose_context_fits() -> None:
    choice = catalog().choose(intent="other", step="answer", prompt_tokens=1000)
    stubs = backends()
    default = catalog().choose(intent="other", step="answer", prompt_tokens=10)

    routed = await router(stubs).generate(default, REQUEST, lambda _: None, prompt_tokens=2000)

    assert choice.route.name == "long"
    assert routed.model == "backup", "small's 1024-token context cannot hold 2000 tokens"
    assert "does not fit" in routed.tried[0], routed.tried


async def test_a_prompt_no_model_can_hold_is_rejected() -> None:
    choice = catalog().choose(intent="other", step="answer", prompt_tokens=10)
    with pytest.raises(RequestRejected, match="can take it"):
        await router(backends()).generate(choice, REQUEST, lambda _: None, prompt_tokens=50_000)


async def test_when_every_model_is_down_the_router_says_so() -> None:
    down = BackendUnavailable("down")
    choice = catalog().choose(intent="other", step="answer", prompt_tokens=10)
    with pytest.raises(AllModelsUnavailable, match="small: down"):
        await router(backends(small=down, backup=down)).generate(
            choice, REQUEST, lambda _: None, prompt_tokens=10
        )


def test_a_route_naming_an_unknown_model_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown model 'huge'"):
        catalog(routes=[{"name": "default", "model": "huge"}])


def test_the_last_route_must_be_the_default() -> None:
    with pytest.raises(ValueError, match="default"):
        catalog(routes=[{"name": "only", "when": {"steps": ["answer"]}, "model": "small"}])


def test_a_remote_model_needs_an_address() -> None:
    with pytest.raises(ValueError, match="url and model"):
        catalog(models={"x": {"backend": "triton"}}, routes=[{"name": "d", "model": "x"}])


def test_a_broken_models_file_names_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(
        "models:\n  m: {backend: scripted, timeout_s: -1}\nroutes:\n  - {name: d, model: m}\n"
    )
    with pytest.raises(ConfigFileError, match=r"(?s)models\.yaml.*models\.m\.timeout_s"):
        load_model_catalog(path)


def test_the_shipped_models_file_is_valid() -> None:
    shipped = load_model_catalog(ConduitSettings().config_dir / "models.yaml")
    assert shipped.routes[-1].when.describe() == "default"
