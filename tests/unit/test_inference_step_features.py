"""The inference step's routing record, answer streaming, response cache and tenant budget
(with a fixed-text backend: logic only; real backends are tested against real servers)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from services.inference.backends.base import BackendUnavailable, DeltaSink, Generation
from services.inference.backends.base import GenerationRequest as Request
from services.inference.response_cache import ExactResponseCache
from services.inference.routing import ModelCatalog, ModelRouter
from services.inference.service import InferenceStep
from services.inference.settings import InferenceSettings
from services.inference.tenant_budget import TenantDailyBudget, TenantLimit
from shared.agent import answer_option, output_schema
from shared.bus import BusMessage, MemoryBus, Topics
from shared.contracts import DraftChunk, PromptMessage, StepEvent, new_envelope
from shared.runtime import BudgetExhausted, DependencyUnavailable, StepCall
from shared.runtime.stream import DraftStream

ANSWER = (
    '{"action": "answer", "text": "Your refund of 49.99 USD is on its way.", "sources": ["a#1"]}'
)
TOPICS = Topics("unit")


class Backend:
    def __init__(self, name: str, error: Exception | None = None) -> None:
        self.name, self.error, self.calls = name, error, 0

    def warm_up(self) -> None:
        pass

    async def generate(self, request: Request, on_delta: DeltaSink | None = None) -> Generation:
        self.calls += 1
        if self.error is not None:
            raise self.error
        if on_delta is not None:
            for start in range(0, len(ANSWER), 7):
                await on_delta(ANSWER[start : start + 7])
        return Generation(
            text=ANSWER, input_tokens=40, output_tokens=12, finish_reason="stop", model=self.name
        )


def _catalog() -> ModelCatalog:
    return ModelCatalog.model_validate(
        {
            "models": {
                "primary": {"backend": "scripted", "price_per_1k_output_usd": 1.0},
                "spare": {"backend": "scripted"},
            },
            "routes": [{"name": "default", "model": "primary", "fallbacks": ["spare"]}],
        }
    )


def _step(backends: dict[str, Backend], **features: Any) -> InferenceStep:
    router = ModelRouter(_catalog(), backends)
    return InferenceStep(router, InferenceSettings(backend="scripted"), **features)


def _event(tenant: str = "acme") -> StepEvent:
    event = StepEvent(envelope=new_envelope(session_id="s-1", tenant_id=tenant, max_tokens=8000))
    event.prompt.messages.append(PromptMessage(role="user", content="Refund INV-1001 please"))
    event.prompt.token_count = 40
    event.prompt.output_schema_json = json.dumps(output_schema([], answer_option(["a#1"])))
    return event


def _call(writer: DraftStream | None = None, **params: Any) -> StepCall:
    return StepCall(workflow="refund", step_id="decide", params=params, stream=writer)


async def test_a_fallback_answer_records_the_route_and_the_failed_model() -> None:
    backends = {
        "primary": Backend("primary", BackendUnavailable("timed out")),
        "spare": Backend("spare"),
    }
    event = _event()

    await _step(backends).handle(event, _call())

    output = event.model_output
    assert output.model == "spare", output
    assert list(output.models_tried) == ["primary: timed out"], output
    assert output.route.startswith("route default"), output.route
    assert output.route.endswith("-> spare"), output.route


async def test_when_every_model_is_down_the_step_waits_for_a_retry() -> None:
    down = BackendUnavailable("connection refused")
    backends = {"primary": Backend("primary", down), "spare": Backend("spare", down)}
    with pytest.raises(DependencyUnavailable, match="connection refused"):
        await _step(backends).handle(_event(), _call())


async def _drafts_of(event: StepEvent, **params: Any) -> list[DraftChunk]:
    bus = MemoryBus()
    drafts: list[DraftChunk] = []

    async def keep(message: BusMessage) -> None:
        drafts.append(DraftChunk.FromString(message.value))

    await bus.listen(TOPICS.drafts, keep)
    await bus.start()
    stream = DraftStream(bus, TOPICS.drafts, event.envelope, "decide")
    await _step({"primary": Backend("primary"), "spare": Backend("spare")}).handle(
        event, _call(stream, **params)
    )
    await asyncio.sleep(0.05)  # listener deliveries are tasks of their own
    await bus.stop()
    return drafts


async def test_a_streamed_answer_drafts_only_the_answer_text_in_order() -> None:
    event = _event()
    drafts = await _drafts_of(event, stream=True)

    chunks = [d.chunk for d in drafts]
    assert "".join(c.text for c in chunks) == "Your refund of 49.99 USD is on its way.", chunks
    assert [c.seq for c in chunks] == list(range(len(chunks))), "pieces out of order"
    assert {c.request_id for c in chunks} == {event.envelope.request_id}


async def test_a_draft_carries_its_context_first_and_says_when_it_ended() -> None:
    event = _event()
    drafts = await _drafts_of(event, stream=True)

    assert drafts[0].context.envelope.request_id == event.envelope.request_id, drafts[0]
    assert not drafts[0].context.prompt.messages, "the prompt text travels with the drafts"
    assert not any(d.HasField("context") for d in drafts[1:]), "context sent more than once"
    assert (drafts[-1].last, drafts[-1].finish_reason) == (True, "stop"), drafts[-1]


async def test_without_the_stream_param_nothing_is_streamed() -> None:
    assert await _drafts_of(_event()) == []


async def test_a_cached_answer_is_reused_for_the_same_request_and_costs_nothing(
    tmp_path: Path,
) -> None:
    primary = Backend("primary")
    cache = ExactResponseCache(tmp_path / "cache.sqlite3", ttl_s=60, max_entries=10)
    step = _step({"primary": primary, "spare": Backend("spare")}, exact_cache=cache)
    first, second = _event(), _event()

    await step.handle(first, _call(cache={"mode": "exact"}, temperature=0))
    await step.handle(second, _call(cache={"mode": "exact"}, temperature=0))
    await cache.close()

    assert primary.calls == 1, "the second identical request must come from the cache"
    assert second.model_output.cached, "the cached answer must say so"
    assert second.model_output.text == first.model_output.text
    assert (second.model_output.cost_usd, second.envelope.budget.tokens_used) == (0, 0)


async def test_another_tenant_never_gets_a_cached_answer(tmp_path: Path) -> None:
    primary = Backend("primary")
    cache = ExactResponseCache(tmp_path / "cache.sqlite3", ttl_s=60, max_entries=10)
    step = _step({"primary": primary, "spare": Backend("spare")}, exact_cache=cache)

    await step.handle(_event("acme"), _call(cache={"mode": "exact"}, temperature=0))
    await step.handle(_event("globex"), _call(cache={"mode": "exact"}, temperature=0))
    await cache.close()

    assert primary.calls == 2, "a cache entry crossed tenants"


async def test_a_tenant_over_its_daily_budget_is_refused_before_any_generation(
    tmp_path: Path,
) -> None:
    primary = Backend("primary")
    budget = TenantDailyBudget(
        tmp_path / "budget.sqlite3",
        limits={"acme": TenantLimit(max_tokens_per_day=60, max_cost_usd_per_day=None)},
        default=None,
    )
    step = _step({"primary": primary, "spare": Backend("spare")}, budget=budget)
    await step.handle(_event(), _call())  # spends 52 tokens

    await step.handle(_event(), _call())  # 104 now: over the limit afterwards
    with pytest.raises(BudgetExhausted, match="acme"):
        await step.handle(_event(), _call())
    await budget.close()

    assert primary.calls == 2, "no generation may run once the tenant's day is spent"
