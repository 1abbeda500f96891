"""The repository's Triton models on the real ``tritonserver`` (CPU), through the gRPC client."""

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tritonclient.grpc.aio import (  # type: ignore[import-untyped]
    InferenceServerClient,
    InferInput,
)
from tritonclient.utils import InferenceServerException  # type: ignore[import-untyped]

from services.inference.triton_repository import (
    EMBEDDING_MODEL,
    GENERATION_MODEL,
    MODEL_REPOSITORY,
    encode_strings,
)
from shared.embeddings import default_embedder
from shared.testing import TritonServer, TritonUnavailableError

pytestmark = pytest.mark.triton

CALL_TIMEOUT_S = 30.0
STREAM_TIMEOUT_S = 60.0
COUNTING_PROMPT = (
    "<|im_start|>user\nCount from 1 to 50, separated by commas.<|im_end|>\n<|im_start|>assistant\n"
)


@dataclass
class _Stream:
    deltas: list[str]
    final: dict[str, Any]


async def _embed(client: InferenceServerClient, texts: list[str]) -> np.ndarray:
    text = InferInput("TEXT", [len(texts), 1], "BYTES")
    text.set_data_from_numpy(encode_strings(texts).reshape(-1, 1))
    result = await client.infer(EMBEDDING_MODEL, [text], client_timeout=CALL_TIMEOUT_S)
    embedding: np.ndarray = result.as_numpy("EMBEDDING")
    return embedding


def _input(name: str, values: np.ndarray, datatype: str) -> InferInput:
    tensor = InferInput(name, list(values.shape), datatype)
    tensor.set_data_from_numpy(values)
    return tensor


async def _generate(client: InferenceServerClient, prompt: str, **options: Any) -> _Stream:
    """Stream one ``smollm2`` request; raises the server's error if the stream reports one."""
    inputs = [_input("PROMPT", encode_strings([prompt]), "BYTES")]
    if "max_tokens" in options:
        inputs.append(_input("MAX_TOKENS", np.array([options["max_tokens"]], np.int32), "INT32"))
    if "grammar" in options:
        inputs.append(_input("GRAMMAR", encode_strings([options["grammar"]]), "BYTES"))

    async def requests() -> AsyncIterator[dict[str, Any]]:
        yield {"model_name": GENERATION_MODEL, "inputs": inputs}

    deltas: list[str] = []
    async with asyncio.timeout(STREAM_TIMEOUT_S):
        async for result, error in client.stream_infer(requests()):
            if error is not None:
                raise error
            delta = result.as_numpy("TEXT_DELTA")[0].decode()
            if not result.get_response().parameters["triton_final_response"].bool_param:
                deltas.append(delta)
                continue
            final = {
                "text_delta": delta,
                "finish_reason": result.as_numpy("FINISH_REASON")[0].decode(),
                "input_tokens": int(result.as_numpy("INPUT_TOKENS")[0]),
                "output_tokens": int(result.as_numpy("OUTPUT_TOKENS")[0]),
            }
            return _Stream(deltas=deltas, final=final)
    raise AssertionError(f"the stream closed without a final response after {deltas}")


def _metric(metrics: str, name: str, model: str) -> float:
    match = re.search(rf'^{name}{{model="{model}",version="1"}} (\S+)$', metrics, re.MULTILINE)
    assert match, f"{name} for {model} missing from the server's metrics"
    return float(match.group(1))


async def test_a_batch_of_texts_embeds_as_the_in_process_embedder_does(
    triton_server: TritonServer,
) -> None:
    texts = ["please refund me", "I want my money back", "Où est la gare ?", ""]
    async with InferenceServerClient(triton_server.grpc_url) as client:
        served = await _embed(client, texts)

    expected = default_embedder().embed(texts)
    assert served.shape == (4, 384), f"one 384-d row per text expected, got {served.shape}"
    np.testing.assert_allclose(served, expected, atol=1e-4, err_msg="Triton's vectors differ")


async def test_concurrent_embedding_requests_share_executions(
    triton_server: TritonServer,
) -> None:
    texts = [f"refund request number {i}" for i in range(16)]
    before = triton_server.metrics_text()
    async with InferenceServerClient(triton_server.grpc_url) as client:
        served = await asyncio.gather(*(_embed(client, [text]) for text in texts))
    after = triton_server.metrics_text()

    expected = default_embedder().embed(texts)
    np.testing.assert_allclose(np.vstack(served), expected, atol=1e-4)
    requests, executions = (
        _metric(after, name, EMBEDDING_MODEL) - _metric(before, name, EMBEDDING_MODEL)
        for name in ("nv_inference_request_success", "nv_inference_exec_count")
    )
    assert requests == len(texts), f"{requests} requests succeeded, expected {len(texts)}"
    assert executions < requests, f"dynamic batching merged nothing: {executions} executions"


async def test_generation_streams_one_response_per_token_then_the_totals(
    triton_server: TritonServer,
) -> None:
    async with InferenceServerClient(triton_server.grpc_url) as client:
        stream = await _generate(client, COUNTING_PROMPT, max_tokens=12)

    assert len(stream.deltas) >= 2, f"expected a token stream, got {stream.deltas}"
    assert "".join(stream.deltas).strip(), "the streamed text is empty"
    # Counting in ASCII: every token decodes on its own, so each is one response.
    assert stream.final == {
        "text_delta": "",
        "finish_reason": "length",
        "input_tokens": stream.final["input_tokens"],
        "output_tokens": len(stream.deltas),
    }, f"final response inconsistent with {len(stream.deltas)} deltas: {stream.final}"
    assert len(stream.deltas) == 12, "max_tokens did not bound the stream"
    assert stream.final["input_tokens"] > 10, "the prompt's tokens were not counted"


async def test_a_grammar_constrains_the_streamed_text(triton_server: TritonServer) -> None:
    async with InferenceServerClient(triton_server.grpc_url) as client:
        stream = await _generate(client, COUNTING_PROMPT, grammar='root ::= "yes" | "no"')

    assert "".join(stream.deltas) in {"yes", "no"}, f"grammar ignored: {stream.deltas}"
    assert stream.final["finish_reason"] == "stop", "a finished grammar should end the stream"


async def test_a_rejected_generation_ends_the_stream_with_the_reason(
    triton_server: TritonServer,
) -> None:
    async with InferenceServerClient(triton_server.grpc_url) as client:
        with pytest.raises(InferenceServerException, match="grammar"):
            await _generate(client, COUNTING_PROMPT, grammar="root ::= undefined-rule")
        # The model instance is still serving after the failure.
        stream = await _generate(client, COUNTING_PROMPT, max_tokens=2)

    assert len(stream.deltas) == 2, f"generation after an error failed: {stream}"


async def test_an_unknown_model_is_reported_by_name(triton_server: TritonServer) -> None:
    async with InferenceServerClient(triton_server.grpc_url) as client:
        text = _input("TEXT", encode_strings(["hi"]).reshape(1, 1), "BYTES")
        with pytest.raises(InferenceServerException, match=r"unknown model.*no-such-model"):
            await client.infer("no-such-model", [text], client_timeout=CALL_TIMEOUT_S)


def test_a_missing_server_binary_is_reported_as_unavailable(tmp_path: Path) -> None:
    server = TritonServer(MODEL_REPOSITORY, server_dir=tmp_path)
    with pytest.raises(TritonUnavailableError, match="tritonserver"):
        server.start()
    server.close()
