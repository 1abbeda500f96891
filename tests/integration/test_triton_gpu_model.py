"""The GPU model, smollm2_gpu, on the real tritonserver: its instance placed on the CPU here,
the same batching engine, constraints and streaming a GPU runs, through TritonBackend."""

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from services.inference.backends.base import BackendRejected, GenerationRequest
from services.inference.backends.triton import TritonBackend
from services.inference.triton_repository import GPU_GENERATION_MODEL, overridden_repository
from shared.models import ChatMessage
from shared.testing import TritonServer

pytestmark = pytest.mark.triton

YES_NO = {
    "type": "object",
    "properties": {"answer": {"enum": ["yes", "no"]}},
    "required": ["answer"],
}


@pytest.fixture(scope="module")
def gpu_model_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TritonServer]:
    repository = overridden_repository(
        Path(tmp_path_factory.mktemp("models")),
        GPU_GENERATION_MODEL,
        kind="CPU",
        # Deltas grouped by count alone, however slowly the CPU decodes.
        parameters={
            "slots": "2",
            "max_len": "1024",
            "dtype": "float32",
            "stream_interval_ms": "60000",
        },
    )
    with TritonServer(repository, models=[GPU_GENERATION_MODEL], start_timeout=300.0) as server:
        yield server


@pytest.fixture
async def backend(gpu_model_server: TritonServer) -> AsyncIterator[TritonBackend]:
    backend = TritonBackend(gpu_model_server.grpc_url, GPU_GENERATION_MODEL, timeout_s=120.0)
    backend.warm_up()
    yield backend
    await backend.close()


def _request(question: str, **options: object) -> GenerationRequest:
    return GenerationRequest(
        messages=[ChatMessage(role="user", content=question)],
        **options,  # type: ignore[arg-type]
    )


async def test_the_streamed_text_is_the_whole_answer_and_counts_its_tokens(
    backend: TritonBackend,
) -> None:
    deltas: list[str] = []

    async def collect(delta: str) -> None:
        deltas.append(delta)

    generation = await backend.generate(
        _request("Count from 1 to 50, separated by commas.", max_tokens=24), collect
    )

    assert "".join(deltas) == generation.text, "the stream and the final text differ"
    assert (generation.finish_reason, generation.output_tokens) == ("length", 24)
    assert len(deltas) < 24, "deltas after the first 16 should be sent in groups"
    assert generation.model == f"triton/{GPU_GENERATION_MODEL}"


async def test_concurrent_requests_beyond_the_slots_all_answer_within_their_schema(
    backend: TritonBackend,
) -> None:
    questions = ["Is Paris in France?", "Is ice hot?", "Is the sea salty?", "Do cats bark?"]

    generations = await asyncio.gather(
        *(
            backend.generate(_request(q + " Answer as JSON.", max_tokens=32, json_schema=YES_NO))
            for q in questions
        )
    )

    for generation in generations:
        assert json.loads(generation.text)["answer"] in ("yes", "no"), generation.text
        assert generation.finish_reason == "stop"


async def test_a_prompt_beyond_the_context_is_rejected(backend: TritonBackend) -> None:
    with pytest.raises(BackendRejected, match="context window of 1024"):
        await backend.generate(_request("refund " * 1500, max_tokens=8))


async def test_a_schema_the_engine_cannot_compile_is_rejected(backend: TritonBackend) -> None:
    with pytest.raises(BackendRejected, match="constraint cannot be used"):
        await backend.generate(
            _request("hi", max_tokens=8, json_schema={"type": "object", "minProperties": "x"})
        )
