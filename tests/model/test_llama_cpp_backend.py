import asyncio
import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from services.inference.backends import Generation, GenerationRequest
from services.inference.backends.llama_cpp import LlamaCppBackend, SchemaNotSupportedError
from services.inference.token_stream import schema_to_gbnf
from shared.models import ChatMessage, GgufTokenizer

pytestmark = pytest.mark.model

INVOICES = ["INV-1001", "INV-2002"]
SOURCES = ["refund-policy#1", "refund-policy#2"]


def _call_tool(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "action": {"const": "call_tool"},
            "tool": {"const": tool},
            "arguments": {
                "type": "object",
                "properties": arguments,
                "required": list(arguments),
                "additionalProperties": False,
            },
        },
        "required": ["action", "tool", "arguments"],
        "additionalProperties": False,
    }


ACTION_SCHEMA: dict[str, Any] = {
    "oneOf": [
        _call_tool("lookup_invoice", {"invoice_id": {"enum": INVOICES}}),
        _call_tool("check_refund_policy", {"invoice_id": {"enum": INVOICES}}),
        _call_tool("issue_refund", {"invoice_id": {"enum": INVOICES}}),
        {
            "type": "object",
            "properties": {
                "action": {"const": "answer"},
                "text": {"type": "string", "maxLength": 200},
                "sources": {
                    "type": "array",
                    "items": {"enum": SOURCES},
                    "minItems": 1,
                    "maxItems": 2,
                },
            },
            "required": ["action", "text", "sources"],
        },
    ]
}
TOOLS = {"lookup_invoice", "check_refund_policy", "issue_refund"}

USER_TURNS = [
    "I want a refund for invoice INV-1001.",
    "What does invoice INV-2002 contain?",
    "Is INV-1001 still eligible for a refund?",
    "Please refund me now, invoice INV-2002, it arrived broken.",
    "What is your refund policy?",
    "hello",
]


@pytest.fixture(scope="module")
def backend() -> Iterator[LlamaCppBackend]:
    backend = LlamaCppBackend()
    backend.warm_up()
    yield backend
    backend.close()


def _chat(user: str, system: str = "You are a concise billing assistant.") -> list[ChatMessage]:
    return [ChatMessage(role="system", content=system), ChatMessage(role="user", content=user)]


def _assert_obeys_action_schema(generation: Generation) -> None:
    assert generation.finish_reason == "stop", generation
    payload = json.loads(generation.text)
    assert next(iter(payload)) == "action"
    if payload["action"] == "call_tool":
        assert set(payload) == {"action", "tool", "arguments"}
        assert payload["tool"] in TOOLS
        assert payload["arguments"] == {"invoice_id": payload["arguments"]["invoice_id"]}
        assert payload["arguments"]["invoice_id"] in INVOICES
    else:
        assert payload["action"] == "answer"
        assert set(payload) == {"action", "text", "sources"}
        assert isinstance(payload["text"], str)
        assert len(payload["text"]) <= 200
        assert 1 <= len(payload["sources"]) <= 2
        assert set(payload["sources"]) <= set(SOURCES)


async def test_plain_chat_answer_reports_token_counts(backend: LlamaCppBackend) -> None:
    messages = _chat("What is the capital of France?")

    generation = await backend.generate(GenerationRequest(messages=messages, max_tokens=48))

    assert generation.text.strip()
    assert generation.input_tokens == GgufTokenizer().count_chat(messages)
    assert 0 < generation.output_tokens <= 48
    assert generation.finish_reason in {"stop", "length"}
    assert generation.model == backend.name


async def test_token_budget_cut_is_reported_as_length(backend: LlamaCppBackend) -> None:
    request = GenerationRequest(messages=_chat("Write a long story about a dragon."), max_tokens=4)

    generation = await backend.generate(request)

    assert generation.finish_reason == "length"
    assert generation.output_tokens == 4


async def test_same_seed_gives_same_sample(backend: LlamaCppBackend) -> None:
    request = GenerationRequest(
        messages=_chat("Name a colour."), max_tokens=12, temperature=0.9, seed=7
    )

    first = await backend.generate(request)
    second = await backend.generate(request)

    assert first.text == second.text


@pytest.mark.parametrize("user", USER_TURNS)
async def test_schema_constrained_greedy_output_obeys_schema(
    backend: LlamaCppBackend, user: str
) -> None:
    request = GenerationRequest(messages=_chat(user), max_tokens=400, json_schema=ACTION_SCHEMA)

    _assert_obeys_action_schema(await backend.generate(request))


@pytest.mark.parametrize("seed", range(8))
async def test_schema_constrained_sampled_output_obeys_schema(
    backend: LlamaCppBackend, seed: int
) -> None:
    request = GenerationRequest(
        messages=_chat(USER_TURNS[seed % len(USER_TURNS)]),
        max_tokens=400,
        temperature=1.2,
        seed=seed,
        json_schema=ACTION_SCHEMA,
    )

    _assert_obeys_action_schema(await backend.generate(request))


async def test_unsupported_schema_is_rejected(backend: LlamaCppBackend) -> None:
    request = GenerationRequest(
        messages=_chat("hi"), max_tokens=8, json_schema={"not": {"type": "string"}}
    )

    with pytest.raises(SchemaNotSupportedError):
        await backend.generate(request)


def test_grammar_strings_exclude_raw_control_characters() -> None:
    gbnf = schema_to_gbnf(json.dumps({"type": "string"}))

    assert 'char ::= [^"\\\\\\x00-\\x1F]' in gbnf


async def test_generate_does_not_block_the_event_loop(backend: LlamaCppBackend) -> None:
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.01)

    request = GenerationRequest(messages=_chat("Write a long story about a dragon."), max_tokens=64)
    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    started = time.perf_counter()
    generation = await backend.generate(request)
    elapsed = time.perf_counter() - started
    ticking.cancel()

    assert generation.output_tokens == 64
    assert elapsed > 0.1
    gaps = [later - earlier for earlier, later in itertools.pairwise(ticks)]
    assert len(ticks) >= elapsed / 0.01 / 3
    assert max(gaps) < 0.1
