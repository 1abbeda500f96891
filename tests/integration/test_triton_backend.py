"""TritonBackend against the real ``tritonserver`` (CPU) serving the ``smollm2`` stream."""

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.inference.backends.base import (
    BackendRejected,
    BackendUnavailable,
    GenerationRequest,
)
from services.inference.backends.triton import TritonBackend
from shared.models.chat import ChatMessage
from shared.testing import TritonServer
from shared.testing._process import free_ports

pytestmark = pytest.mark.triton

OK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}},
    "required": ["ok"],
}


@pytest.fixture
async def backend(triton_server: TritonServer) -> AsyncIterator[TritonBackend]:
    backend = TritonBackend(triton_server.grpc_url, timeout_s=60.0)
    yield backend
    await backend.close()


def _request(
    user: str, max_tokens: int, json_schema: dict[str, Any] | None = None
) -> GenerationRequest:
    return GenerationRequest(
        messages=[ChatMessage(role="user", content=user)],
        max_tokens=max_tokens,
        json_schema=json_schema,
    )


async def test_a_chat_streams_deltas_that_add_up_to_the_generation(
    backend: TritonBackend,
) -> None:
    deltas: list[str] = []

    async def collect(delta: str) -> None:
        deltas.append(delta)

    generation = await backend.generate(
        _request("Count from 1 to 20, separated by commas.", max_tokens=16), collect
    )

    assert len(deltas) >= 2, f"expected a token stream, got {deltas}"
    assert "".join(deltas) == generation.text, "the deltas do not add up to the text"
    assert generation.output_tokens == len(deltas) == 16, (
        f"ASCII tokens stream one each, up to max_tokens: {len(deltas)} deltas, {generation}"
    )
    assert (generation.finish_reason, generation.model) == ("length", "triton/smollm2"), (
        f"finish reason or model name wrong: {generation}"
    )
    assert generation.input_tokens > 10, "the rendered chat's tokens were not counted"


async def test_a_json_schema_constrains_the_answer(backend: TritonBackend) -> None:
    generation = await backend.generate(
        _request("Is the sky blue? Answer in JSON.", max_tokens=32, json_schema=OK_SCHEMA)
    )

    answer = json.loads(generation.text)
    assert answer in ({"ok": True}, {"ok": False}), (
        f"output does not match the schema: {generation.text!r}"
    )
    assert generation.finish_reason == "stop", "a completed grammar must end the generation"


async def test_a_prompt_beyond_the_context_is_rejected(backend: TritonBackend) -> None:
    with pytest.raises(BackendRejected, match="context window"):
        await backend.generate(_request("refund " * 5000, max_tokens=8))


async def test_an_unreachable_server_is_unavailable_at_once() -> None:
    backend = TritonBackend(f"127.0.0.1:{free_ports(1)[0]}", timeout_s=30.0)
    backend.warm_up()
    started = time.perf_counter()

    with pytest.raises(BackendUnavailable, match="UNAVAILABLE"):
        await backend.generate(_request("hi", max_tokens=8))

    elapsed = time.perf_counter() - started
    await backend.close()
    assert elapsed < 5.0, f"a refused connection took {elapsed:.1f}s to report"


async def test_a_stream_past_its_timeout_is_unavailable_and_the_next_request_still_works(
    triton_server: TritonServer, backend: TritonBackend
) -> None:
    impatient = TritonBackend(triton_server.grpc_url, timeout_s=0.5)
    impatient.warm_up()
    long_story = _request("Write a long story about a dragon.", max_tokens=2000)

    with pytest.raises(BackendUnavailable, match=r"within 0\.5s"):
        await impatient.generate(long_story)
    await impatient.close()
    started = time.perf_counter()
    generation = await backend.generate(_request("Say hi.", max_tokens=4))

    elapsed = time.perf_counter() - started
    assert generation.output_tokens == 4, f"the model did not serve after a timeout: {generation}"
    assert elapsed < 10.0, f"the cancelled stream kept the model busy for {elapsed:.1f}s"
