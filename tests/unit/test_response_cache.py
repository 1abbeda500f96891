"""Response caches: exact and semantic reuse, per tenant, expiring, counted, never for tools."""

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from services.inference.backends.base import Generation, GenerationRequest
from services.inference.response_cache import (
    CacheKey,
    CachePolicy,
    ExactResponseCache,
    RequestShape,
    SemanticResponseCache,
    cacheable,
    last_user_text,
)
from shared.agent import answer_option, output_schema, tool_call_option
from shared.embeddings.embedder import F32
from shared.models.chat import ChatMessage
from shared.runtime import StepMisconfigured
from tests.fixtures.metrics import RecordedMetrics

MODEL = "smollm2"
ANSWER_SCHEMA = output_schema([], answer_option(["refund-policy#2"]))
TOOL_SCHEMA = output_schema(
    [tool_call_option("lookup_invoice", {"type": "object"})], answer_option([])
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class TableEmbedder:
    """Vectors looked up by text, so tests choose the similarity of any two texts."""

    dimension = 2
    identity = "a table of vectors"

    def __init__(self, vectors: Mapping[str, Sequence[float]]) -> None:
        self._vectors = vectors

    def warm_up(self) -> None:
        pass

    def embed(self, texts: Sequence[str]) -> F32:
        return np.array([self._vectors[text] for text in texts], dtype=np.float32)


def _request(content: str = "Where is my refund?", **changes: Any) -> GenerationRequest:
    request = GenerationRequest(
        messages=[
            ChatMessage(role="system", content="You are a support agent."),
            ChatMessage(role="user", content=content),
        ],
        max_tokens=64,
        json_schema=ANSWER_SCHEMA,
    )
    return replace(request, **changes)


def _generation(text: str = '{"action":"answer"}') -> Generation:
    return Generation(
        text=text, input_tokens=30, output_tokens=5, finish_reason="stop", model=MODEL
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def exact(tmp_path: Path, clock: FakeClock) -> AsyncIterator[ExactResponseCache]:
    cache = ExactResponseCache(tmp_path / "responses.sqlite3", ttl_s=60, max_entries=3, clock=clock)
    yield cache
    await cache.close()


def _key(tenant: str = "acme", model: str = MODEL, **changes: Any) -> CacheKey:
    return CacheKey.for_request(tenant, model, _request(**changes))


async def test_a_stored_response_is_served_for_the_same_request(
    exact: ExactResponseCache,
) -> None:
    await exact.put(_key(), _generation())

    assert await exact.get(_key()) == _generation(), "the stored response was not served"


async def test_a_request_never_stored_misses(exact: ExactResponseCache) -> None:
    assert await exact.get(_key()) is None, "a response appeared from nowhere"


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(_key(tenant="globex"), id="tenant"),
        pytest.param(_key(model="llama-3"), id="model"),
        pytest.param(_key(max_tokens=128), id="max_tokens"),
        pytest.param(_key(temperature=0.7), id="temperature"),
        pytest.param(_key(json_schema=None), id="json_schema"),
        pytest.param(_key(content="Cancel my order"), id="messages"),
    ],
)
async def test_a_request_differing_in_tenant_model_or_parameters_misses(
    exact: ExactResponseCache, other: CacheKey
) -> None:
    await exact.put(_key(), _generation())

    assert await exact.get(other) is None, "a response was served for a different request"


def test_the_seed_does_not_split_greedy_requests_but_does_split_sampled_ones() -> None:
    assert _key(seed=1) == _key(seed=2), "greedy decoding ignores the seed, the key must too"
    assert _key(seed=1, temperature=0.7) != _key(seed=2, temperature=0.7), (
        "sampled outputs depend on the seed, the key must too"
    )


async def test_an_expired_response_misses_and_is_deleted(
    exact: ExactResponseCache, clock: FakeClock
) -> None:
    await exact.put(_key(), _generation())
    clock.now += 61

    assert await exact.get(_key()) is None, "an expired response was served"
    clock.now -= 61
    assert await exact.get(_key()) is None, "the expired response was not deleted"


async def test_a_ttl_given_to_put_replaces_the_default(
    exact: ExactResponseCache, clock: FakeClock
) -> None:
    await exact.put(_key(), _generation(), ttl_s=600)
    clock.now += 300

    assert await exact.get(_key()) == _generation(), "the step's longer TTL was not honoured"


async def test_the_oldest_responses_are_evicted_beyond_max_entries(
    exact: ExactResponseCache, clock: FakeClock
) -> None:
    questions = ["q1", "q2", "q3", "q4"]
    for question in questions:
        await exact.put(_key(content=question), _generation(question))
        clock.now += 1

    kept = [q for q in questions if await exact.get(_key(content=q)) is not None]

    assert kept == ["q2", "q3", "q4"], f"wrong entries kept with max_entries=3: {kept}"


async def test_clearing_a_tenant_forgets_only_its_responses(exact: ExactResponseCache) -> None:
    await exact.put(_key(tenant="acme"), _generation())
    await exact.put(_key(tenant="globex"), _generation())

    cleared = await exact.clear_tenant("acme")

    assert cleared == 1, f"cleared {cleared} responses, expected acme's one"
    assert await exact.get(_key(tenant="acme")) is None, "acme's response survived"
    assert await exact.get(_key(tenant="globex")) is not None, "globex's response was cleared"


async def test_responses_persist_for_another_cache_on_the_same_file(
    tmp_path: Path, exact: ExactResponseCache, clock: FakeClock
) -> None:
    await exact.put(_key(), _generation())
    other = ExactResponseCache(tmp_path / "responses.sqlite3", ttl_s=60, max_entries=3, clock=clock)
    try:
        assert await other.get(_key()) == _generation(), "the response did not persist"
    finally:
        await other.close()


async def test_exact_lookups_are_counted_as_hits_and_misses(
    exact: ExactResponseCache, recorded_metrics: RecordedMetrics
) -> None:
    def count(result: str) -> float:
        return recorded_metrics.total(
            "conduit.cache.lookups", cache="response_exact", result=result
        )

    hits, misses = count("hit"), count("miss")
    await exact.get(_key())
    await exact.put(_key(), _generation())
    await exact.get(_key())

    assert (count("hit") - hits, count("miss") - misses) == (1, 1), "lookups miscounted"


SIMILAR_VECTORS = {
    "where is my refund?": [1.0, 0.0],
    "where's my refund": [0.99, 0.141],  # cosine 0.99 with the first
    "refund status please": [0.9, 0.436],  # cosine 0.9
    "cancel my order": [0.0, 1.0],
}


@pytest.fixture
def semantic(clock: FakeClock) -> SemanticResponseCache:
    return SemanticResponseCache(
        TableEmbedder(SIMILAR_VECTORS),
        threshold=0.95,
        ttl_s=60,
        max_entries_per_tenant=2,
        clock=clock,
    )


def _shape(**changes: Any) -> RequestShape:
    return RequestShape.for_request(MODEL, _request(**changes))


async def test_a_question_close_enough_in_meaning_is_served_the_cached_answer(
    semantic: SemanticResponseCache,
) -> None:
    await semantic.put("acme", "where is my refund?", _shape(), _generation())

    assert await semantic.get("acme", "where's my refund", _shape()) == _generation(), (
        "a question at cosine 0.99 (threshold 0.95) missed"
    )


async def test_a_question_below_the_threshold_misses(semantic: SemanticResponseCache) -> None:
    await semantic.put("acme", "where is my refund?", _shape(), _generation())

    assert await semantic.get("acme", "refund status please", _shape()) is None, (
        "a question at cosine 0.9 (threshold 0.95) was served"
    )


async def test_a_step_threshold_replaces_the_default(semantic: SemanticResponseCache) -> None:
    await semantic.put("acme", "where is my refund?", _shape(), _generation())

    served = await semantic.get("acme", "refund status please", _shape(), threshold=0.85)

    assert served == _generation(), "a cosine of 0.9 missed under a 0.85 threshold"


async def test_another_tenants_answer_is_never_served(semantic: SemanticResponseCache) -> None:
    await semantic.put("acme", "where is my refund?", _shape(), _generation())

    assert await semantic.get("globex", "where is my refund?", _shape()) is None, (
        "globex was served acme's answer"
    )


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(_shape(json_schema=TOOL_SCHEMA), id="json_schema"),
        pytest.param(_shape(max_tokens=8), id="max_tokens"),
        pytest.param(_shape(temperature=0.7), id="temperature"),
        pytest.param(RequestShape.for_request("llama-3", _request()), id="model"),
    ],
)
async def test_a_request_of_another_shape_misses_even_for_the_same_question(
    semantic: SemanticResponseCache, other: RequestShape
) -> None:
    await semantic.put("acme", "where is my refund?", _shape(), _generation())

    assert await semantic.get("acme", "where is my refund?", other) is None, (
        "an answer was reused for a request of another shape"
    )


async def test_the_most_similar_answer_wins(semantic: SemanticResponseCache) -> None:
    await semantic.put("acme", "where's my refund", _shape(), _generation("close"))
    await semantic.put("acme", "where is my refund?", _shape(), _generation("exact"))

    served = await semantic.get("acme", "where is my refund?", _shape())

    assert served == _generation("exact"), f"a less similar answer was served: {served}"


async def test_an_expired_semantic_entry_misses(
    semantic: SemanticResponseCache, clock: FakeClock
) -> None:
    await semantic.put("acme", "where is my refund?", _shape(), _generation())
    clock.now += 61

    assert await semantic.get("acme", "where is my refund?", _shape()) is None, (
        "an expired answer was served"
    )


async def test_a_tenants_oldest_semantic_entry_is_evicted_beyond_its_limit(
    semantic: SemanticResponseCache,
) -> None:
    for text in ["where is my refund?", "refund status please", "cancel my order"]:
        await semantic.put("acme", text, _shape(), _generation(text))

    assert await semantic.get("acme", "where is my refund?", _shape()) is None, (
        "the oldest of 3 entries survived a limit of 2"
    )
    assert await semantic.get("acme", "cancel my order", _shape()) is not None, (
        "the newest entry was evicted"
    )


async def test_semantic_lookups_are_counted_as_hits_and_misses(
    semantic: SemanticResponseCache, recorded_metrics: RecordedMetrics
) -> None:
    def count(result: str) -> float:
        return recorded_metrics.total(
            "conduit.cache.lookups", cache="response_semantic", result=result
        )

    hits, misses = count("hit"), count("miss")
    await semantic.get("acme", "where is my refund?", _shape())
    await semantic.put("acme", "where is my refund?", _shape(), _generation())
    await semantic.get("acme", "where's my refund", _shape())

    assert (count("hit") - hits, count("miss") - misses) == (1, 1), "lookups miscounted"


def test_the_semantic_text_is_the_last_user_message() -> None:
    messages = [
        ChatMessage(role="user", content="first"),
        ChatMessage(role="assistant", content="reply"),
        ChatMessage(role="user", content="second"),
        ChatMessage(role="tool", content="Result of lookup: {}"),
    ]
    assert last_user_text(messages) == "second", "compared the wrong message"


def test_a_step_without_cache_params_does_not_cache() -> None:
    assert CachePolicy.from_step_params({"max_tokens": 160}).mode == "none"


def test_a_step_cache_policy_is_read_from_its_params() -> None:
    policy = CachePolicy.from_step_params({"cache": {"mode": "semantic", "threshold": 0.9}})

    assert (policy.mode, policy.threshold, policy.ttl_s) == ("semantic", 0.9, 3600), policy


def test_an_invalid_cache_policy_names_the_field() -> None:
    with pytest.raises(StepMisconfigured, match=r"params\.cache\.ttl_s"):
        CachePolicy.from_step_params({"cache": {"mode": "exact", "ttl_s": -1}})


EXACT = CachePolicy(mode="exact")


@pytest.mark.parametrize(
    "schema",
    [
        pytest.param(TOOL_SCHEMA, id="tool-or-answer"),
        pytest.param(
            output_schema([tool_call_option("lookup_invoice", {"type": "object"})], None),
            id="tool-only",
        ),
        pytest.param({"type": "object"}, id="action-unconstrained"),
        pytest.param(
            {"type": "object", "properties": {"action": {"enum": ["answer", "call_tool"]}}},
            id="action-enum-with-tool",
        ),
    ],
)
def test_a_step_whose_output_can_call_a_tool_is_never_cacheable(schema: dict[str, Any]) -> None:
    assert not cacheable(EXACT, schema), "a step that may call a tool would be served from cache"


@pytest.mark.parametrize(
    "schema",
    [pytest.param(None, id="free-text"), pytest.param(ANSWER_SCHEMA, id="answer-only")],
)
def test_a_step_that_can_only_answer_is_cacheable(schema: dict[str, Any] | None) -> None:
    assert cacheable(EXACT, schema), "an answer-only step was refused the cache"


def test_a_step_with_mode_none_is_not_cacheable() -> None:
    assert not cacheable(CachePolicy(), ANSWER_SCHEMA), "caching happened without opting in"
