"""The OpenAI-compatible backend against a real OpenAI-compatible server: llama-cpp-python's
``llama_cpp.server`` serving SmolLM2 on loopback."""

import json
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from services.inference.backends.base import (
    BackendRejected,
    BackendUnavailable,
    Generation,
    GenerationRequest,
)
from services.inference.backends.openai_compat import OpenAICompatibleBackend
from shared.models.chat import ChatMessage
from shared.models.local_gguf import GgufTokenizer
from shared.testing import LlamaServer
from shared.testing._process import free_ports

pytestmark = pytest.mark.openai

API_KEY = "test-key-not-secret"
COUNTING = [ChatMessage(role="user", content="Count from 1 to 50, separated by commas.")]
# SmolLM2 writes 400 tokens for this without stopping: several seconds on one thread.
STORY = [ChatMessage(role="user", content="Write a long story about a dragon who learns to cook.")]
YES_NO_SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}},
    "required": ["answer"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def tokenizer() -> GgufTokenizer:
    return GgufTokenizer()


def _backend(
    server: LlamaServer,
    tokenizer: GgufTokenizer | None,
    *,
    api_key: str | None = None,
    timeout_s: float = 60.0,
) -> OpenAICompatibleBackend:
    return OpenAICompatibleBackend(
        server.base_url,
        server.model_alias,
        api_key=api_key,
        timeout_s=timeout_s,
        schema_format="json_object",
        usage_counter=tokenizer,
    )


@pytest.fixture
async def backend(
    llama_server: LlamaServer, tokenizer: GgufTokenizer
) -> AsyncIterator[OpenAICompatibleBackend]:
    backend = _backend(llama_server, tokenizer)
    yield backend
    await backend.close()


@pytest.fixture(scope="module")
def keyed_server() -> Iterator[LlamaServer]:
    with LlamaServer(api_key=API_KEY) as server:
        yield server


async def _streamed(
    backend: OpenAICompatibleBackend, request: GenerationRequest
) -> tuple[Generation, list[str]]:
    deltas: list[str] = []

    async def collect(delta: str) -> None:
        deltas.append(delta)

    return await backend.generate(request, on_delta=collect), deltas


async def _generate(
    backend: OpenAICompatibleBackend, request: GenerationRequest, *, streamed: bool
) -> Generation:
    return (await _streamed(backend, request))[0] if streamed else await backend.generate(request)


async def test_streamed_deltas_make_up_the_text_in_order_with_positive_usage(
    backend: OpenAICompatibleBackend,
) -> None:
    request = GenerationRequest(messages=COUNTING, max_tokens=16)

    generation, deltas = await _streamed(backend, request)

    assert len(deltas) > 1, f"expected the text in several deltas, got {deltas}"
    assert "".join(deltas) == generation.text, "the deltas do not concatenate to the text"
    assert generation.input_tokens > 0, f"no prompt tokens counted: {generation}"
    assert generation.output_tokens > 0, f"no output tokens counted: {generation}"
    assert generation.finish_reason == "length", f"16 tokens cannot count to 50: {generation}"


async def test_stream_usage_counted_locally_matches_the_servers_own_count(
    backend: OpenAICompatibleBackend,
) -> None:
    request = GenerationRequest(messages=COUNTING, max_tokens=16, seed=7)

    streamed, _ = await _streamed(backend, request)
    unstreamed = await backend.generate(request)

    assert streamed.text == unstreamed.text, "greedy decoding differs between the two modes"
    assert (streamed.input_tokens, streamed.output_tokens) == (
        unstreamed.input_tokens,
        unstreamed.output_tokens,
    ), f"local count {streamed} differs from the server's {unstreamed}"


async def test_a_stream_without_usage_fails_when_no_usage_counter_is_given(
    llama_server: LlamaServer,
) -> None:
    backend = _backend(llama_server, None)
    request = GenerationRequest(messages=COUNTING, max_tokens=4)
    try:
        with pytest.raises(BackendUnavailable, match="no usage reported"):
            await _streamed(backend, request)
    finally:
        await backend.close()


async def test_an_unstreamed_completion_reports_the_servers_usage_and_model(
    backend: OpenAICompatibleBackend,
) -> None:
    generation = await backend.generate(GenerationRequest(messages=COUNTING, max_tokens=8))

    assert generation.output_tokens == 8, f"8 tokens asked and cut short: {generation}"
    assert generation.input_tokens > 0, f"no prompt tokens reported: {generation}"
    assert generation.finish_reason == "length", f"unexpected finish: {generation}"
    assert generation.model == "smollm2", f"the server's model alias was lost: {generation}"
    assert generation.text, "an empty completion"


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "unstreamed"])
async def test_a_json_schema_constrains_the_output(
    backend: OpenAICompatibleBackend, streamed: bool
) -> None:
    question = [ChatMessage(role="user", content="Is the sky blue? Answer in JSON.")]
    request = GenerationRequest(messages=question, max_tokens=32, json_schema=YES_NO_SCHEMA)

    generation = await _generate(backend, request, streamed=streamed)

    assert generation.finish_reason == "stop", f"the JSON was cut short: {generation}"
    assert json.loads(generation.text)["answer"] in {"yes", "no"}, generation.text


async def test_an_invalid_json_schema_is_rejected_before_sending(
    backend: OpenAICompatibleBackend,
) -> None:
    request = GenerationRequest(messages=COUNTING, max_tokens=8, json_schema={"type": "nonsense"})

    with pytest.raises(BackendRejected, match="not a valid JSON schema"):
        await backend.generate(request)


@pytest.mark.parametrize(
    ("max_tokens", "temperature"), [(0, 0.0), (8, 3.0)], ids=["no-tokens", "hot"]
)
async def test_invalid_generation_parameters_are_rejected(
    backend: OpenAICompatibleBackend, max_tokens: int, temperature: float
) -> None:
    request = GenerationRequest(messages=COUNTING, max_tokens=max_tokens, temperature=temperature)

    with pytest.raises(BackendRejected):
        await backend.generate(request)


async def test_a_tool_turn_without_a_call_id_is_rejected_before_sending(
    backend: OpenAICompatibleBackend,
) -> None:
    turns = [*COUNTING, ChatMessage(role="tool", content="42")]

    with pytest.raises(BackendRejected, match="'tool'"):
        await backend.generate(GenerationRequest(messages=turns, max_tokens=8))


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "unstreamed"])
async def test_a_prompt_beyond_the_context_window_is_rejected_with_the_servers_message(
    backend: OpenAICompatibleBackend, streamed: bool
) -> None:
    huge = [ChatMessage(role="user", content="word " * 3000)]
    request = GenerationRequest(messages=huge, max_tokens=8)

    with pytest.raises(BackendRejected, match="maximum context length is 2048 tokens"):
        await _generate(backend, request, streamed=streamed)


async def test_an_unreachable_server_is_unavailable_at_once() -> None:
    (port,) = free_ports(1)
    backend = OpenAICompatibleBackend(f"http://127.0.0.1:{port}/v1", "smollm2")
    started = time.monotonic()
    try:
        with pytest.raises(BackendUnavailable, match="ConnectError"):
            await backend.generate(GenerationRequest(messages=COUNTING, max_tokens=8))
    finally:
        await backend.close()
    assert time.monotonic() - started < 1.0, "a refused connection took a second or more"


async def test_a_generation_slower_than_the_timeout_is_unavailable(
    llama_server: LlamaServer, tokenizer: GgufTokenizer
) -> None:
    backend = _backend(llama_server, tokenizer, timeout_s=0.5)
    request = GenerationRequest(messages=STORY, max_tokens=400)
    started = time.monotonic()
    try:
        with pytest.raises(BackendUnavailable, match=r"within 0\.5s"):
            await _streamed(backend, request)
    finally:
        await backend.close()
    assert time.monotonic() - started < 2.0, "the timeout did not cut the call short"


async def test_a_stream_broken_midway_is_unavailable(tokenizer: GgufTokenizer) -> None:
    with LlamaServer() as server:
        backend = _backend(server, tokenizer)
        deltas: list[str] = []

        async def kill_after_first_delta(delta: str) -> None:
            deltas.append(delta)
            if len(deltas) == 1:
                server.kill()

        request = GenerationRequest(messages=STORY, max_tokens=200)
        try:
            with pytest.raises(BackendUnavailable):
                await backend.generate(request, on_delta=kill_after_first_delta)
        finally:
            await backend.close()
    assert 1 <= len(deltas) < 200, f"the stream did not break midway: {len(deltas)} deltas"


async def test_a_wrong_api_key_is_refused_as_credentials(
    keyed_server: LlamaServer, tokenizer: GgufTokenizer
) -> None:
    backend = _backend(keyed_server, tokenizer, api_key="wrong-key")
    try:
        with pytest.raises(BackendRejected, match="credentials refused") as refused:
            await backend.generate(GenerationRequest(messages=COUNTING, max_tokens=4))
    finally:
        await backend.close()
    assert "wrong-key" not in str(refused.value), "the error message leaks the API key"


async def test_the_right_api_key_is_accepted(
    keyed_server: LlamaServer, tokenizer: GgufTokenizer
) -> None:
    backend = _backend(keyed_server, tokenizer, api_key=API_KEY)
    try:
        generation = await backend.generate(GenerationRequest(messages=COUNTING, max_tokens=4))
    finally:
        await backend.close()
    assert generation.output_tokens == 4, f"the keyed server did not generate: {generation}"
