"""LlamaCppBackend streaming the local model's text to a sink as it decodes."""

import asyncio
import time
from collections.abc import Iterator

import pytest

from services.inference.backends import GenerationRequest
from services.inference.backends.base import BackendRejected
from services.inference.backends.llama_cpp import LlamaCppBackend
from shared.models import ChatMessage

pytestmark = pytest.mark.model

SYSTEM = ChatMessage(role="system", content="You are a concise billing assistant.")


@pytest.fixture(scope="module")
def backend() -> Iterator[LlamaCppBackend]:
    backend = LlamaCppBackend()
    backend.warm_up()
    yield backend
    backend.close()


def _request(
    user: str, max_tokens: int, temperature: float = 0.0, seed: int = 0
) -> GenerationRequest:
    return GenerationRequest(
        messages=[SYSTEM, ChatMessage(role="user", content=user)],
        max_tokens=max_tokens,
        temperature=temperature,
        seed=seed,
    )


async def test_streamed_deltas_add_up_to_the_generated_text(backend: LlamaCppBackend) -> None:
    deltas: list[str] = []

    async def collect(delta: str) -> None:
        deltas.append(delta)

    generation = await backend.generate(_request("Count from 1 to 20.", 24), collect)

    assert len(deltas) >= 2, f"expected a token stream, got {deltas}"
    assert "".join(deltas) == generation.text, "the deltas do not add up to the text"
    assert len(deltas) <= generation.output_tokens == 24, (
        f"{len(deltas)} deltas for {generation.output_tokens} tokens, max_tokens 24"
    )


@pytest.mark.parametrize(
    ("user", "temperature"),
    [("What is the capital of France?", 0.0), ("Name a colour.", 0.9)],
)
async def test_a_sink_does_not_change_the_output_for_the_same_seed(
    backend: LlamaCppBackend, user: str, temperature: float
) -> None:
    request = _request(user, 32, temperature=temperature, seed=7)

    async def ignore(delta: str) -> None:
        pass

    streamed = await backend.generate(request, ignore)
    plain = await backend.generate(request)

    assert streamed == plain, f"streaming changed the generation: {streamed} vs {plain}"


async def test_an_oversize_prompt_is_rejected(backend: LlamaCppBackend) -> None:
    with pytest.raises(BackendRejected, match="context window"):
        await backend.generate(_request("refund " * 5000, 8))


async def test_a_cancelled_generation_stops_decoding(backend: LlamaCppBackend) -> None:
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await backend.generate(_request("Write a long story about a dragon.", 2000))
    started = time.perf_counter()

    generation = await backend.generate(_request("Say hi.", 4))

    elapsed = time.perf_counter() - started
    assert generation.output_tokens == 4, f"the backend did not serve after a cancel: {generation}"
    assert elapsed < 5.0, f"the cancelled generation kept the model busy for {elapsed:.1f}s"
