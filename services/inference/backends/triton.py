"""A ModelBackend streaming from a decoupled model on Triton Inference Server over gRPC."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import grpc  # type: ignore[import-untyped]
import numpy as np
import numpy.typing as npt
from tritonclient.grpc.aio import (  # type: ignore[import-untyped]
    InferenceServerClient,
    InferInput,
    InferResult,
)
from tritonclient.utils import InferenceServerException  # type: ignore[import-untyped]

from services.inference.backends.base import (
    BackendRejected,
    BackendUnavailable,
    DeltaSink,
    Generation,
    GenerationRequest,
    completion_for,
)
from services.inference.completion import CompletionRejectedError, CompletionRequest
from services.inference.triton_repository import GENERATION_MODEL, decode_strings, encode_strings
from shared.models.local_gguf import GgufTokenizer

DEFAULT_TIMEOUT_S = 30.0
# The model reports a request it cannot run as "<exception class>: <reason>".
_REJECTION_PREFIX = f"{CompletionRejectedError.__name__}:"
_FINISH_REASONS = frozenset({"stop", "length"})
_T = TypeVar("_T")


class TritonBackend:
    """Completes chats on Triton's decoupled ``smollm2`` model, one response per token.

    The chat is rendered here with the GGUF model's own template (``GgufTokenizer``) and
    sent as PROMPT with MAX_TOKENS, TEMPERATURE, SEED and any ``json_schema`` as JSON_SCHEMA,
    which the model compiles for its own decoder (a llama.cpp grammar on CPU, a token-mask
    automaton on GPU). Each TEXT_DELTA goes to ``on_delta`` in order; the final response
    carries the finish reason and exact token counts.

    One gRPC client (its channel is the connection pool) serves every request; it opens on
    the first request, bound to that request's event loop, and ``close`` releases it.
    ``timeout_s`` bounds the whole stream, sink included: past it the stream is cancelled
    (the model stops at the next token) and ``BackendUnavailable`` is raised, as for a
    server that is down, a stream that breaks off or a malformed response. A request the
    model refuses (no room in the context, a grammar it cannot parse) raises
    ``BackendRejected``.

    Example:
        >>> async def show(delta: str) -> None:
        ...     print(delta, end="", flush=True)
        >>> async def answer(request: GenerationRequest) -> str:
        ...     backend = TritonBackend("127.0.0.1:8001", timeout_s=10.0)
        ...     try:
        ...         return (await backend.generate(request, on_delta=show)).text
        ...     finally:
        ...         await backend.close()
    """

    def __init__(
        self,
        url: str,
        model: str = GENERATION_MODEL,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        name: str | None = None,
    ) -> None:
        self.name = name or f"triton/{model}"
        self._url = url
        self._model = model
        self._timeout_s = timeout_s
        self._client: InferenceServerClient | None = None
        self._tokenizer: GgufTokenizer | None = None

    def warm_up(self) -> None:
        """Load the chat template's tokenizer; the connection opens with the first request."""
        self._load_tokenizer()

    async def generate(
        self, request: GenerationRequest, on_delta: DeltaSink | None = None
    ) -> Generation:
        """Stream the completion of ``request.messages`` from Triton."""
        tokenizer = self._tokenizer
        if tokenizer is None:
            tokenizer = await asyncio.to_thread(self._load_tokenizer)
        schema = None if request.json_schema is None else json.dumps(request.json_schema)
        completion = completion_for(
            request, tokenizer.render_chat(request.messages), json_schema=schema
        )
        inputs = _inputs(completion)
        try:
            async with asyncio.timeout(self._timeout_s):
                return await self._stream(inputs, on_delta)
        except TimeoutError as exc:
            raise BackendUnavailable(
                f"{self.name}: no complete answer within {self._timeout_s:g}s"
            ) from exc
        except grpc.RpcError as exc:
            raise BackendUnavailable(
                f"{self.name} at {self._url}: {exc.code().name}: {exc.details()}"
            ) from exc

    async def close(self) -> None:
        """Close the gRPC channel; a later request opens a new one."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()

    def _load_tokenizer(self) -> GgufTokenizer:
        if self._tokenizer is None:
            self._tokenizer = GgufTokenizer()
        return self._tokenizer

    async def _stream(self, inputs: list[InferInput], on_delta: DeltaSink | None) -> Generation:
        async def one_request() -> AsyncIterator[dict[str, Any]]:
            yield {"model_name": self._model, "inputs": inputs}

        if self._client is None:
            self._client = InferenceServerClient(self._url)
        responses = self._client.stream_infer(one_request())
        pieces: list[str] = []
        try:
            async for result, error in responses:
                if error is not None:
                    raise self._failure(error)
                delta = self._text_delta(result)
                if delta:
                    pieces.append(delta)
                    if on_delta is not None:
                        await on_delta(delta)
                if _is_final(result):
                    return self._generation("".join(pieces), result)
        finally:
            # Stops the model mid-stream on timeout or cancellation; a no-op once it ended.
            responses.cancel()
        raise BackendUnavailable(f"{self.name}: the stream ended before its final response")

    def _failure(self, error: InferenceServerException) -> Exception:
        message = str(error.message())
        if message.startswith(_REJECTION_PREFIX):
            reason = message.removeprefix(_REJECTION_PREFIX).strip()
            return BackendRejected(f"{self.name}: {reason}")
        return BackendUnavailable(f"{self.name}: {message}")

    def _text_delta(self, result: InferResult) -> str:
        return self._output(result, "TEXT_DELTA", _text)

    def _generation(self, text: str, result: InferResult) -> Generation:
        finish_reason = self._output(result, "FINISH_REASON", _text)
        if finish_reason not in _FINISH_REASONS:
            raise BackendUnavailable(f"{self.name}: malformed finish reason {finish_reason!r}")
        return Generation(
            text=text,
            input_tokens=self._output(result, "INPUT_TOKENS", _count),
            output_tokens=self._output(result, "OUTPUT_TOKENS", _count),
            finish_reason=finish_reason,
            model=self.name,
        )

    def _output(self, result: InferResult, name: str, read: Callable[[npt.NDArray[Any]], _T]) -> _T:
        tensor = result.as_numpy(name)
        try:
            if tensor is None or tensor.size != 1:
                raise ValueError("expected one value")
            return read(tensor)
        except (ValueError, TypeError, UnicodeDecodeError) as exc:
            raise BackendUnavailable(f"{self.name}: malformed {name} in a response: {exc}") from exc


def _text(tensor: npt.NDArray[Any]) -> str:
    return decode_strings(tensor)[0]


def _count(tensor: npt.NDArray[Any]) -> int:
    count = int(tensor.reshape(-1)[0])
    if count < 0:
        raise ValueError(f"negative count {count}")
    return count


def _is_final(result: InferResult) -> bool:
    parameters = result.get_response().parameters
    return "triton_final_response" in parameters and bool(
        parameters["triton_final_response"].bool_param
    )


def _inputs(completion: CompletionRequest) -> list[InferInput]:
    try:
        tensors: list[tuple[str, npt.NDArray[Any], str]] = [
            ("PROMPT", encode_strings([completion.prompt]), "BYTES"),
            ("MAX_TOKENS", np.array([completion.max_tokens], dtype=np.int32), "INT32"),
            ("TEMPERATURE", np.array([completion.temperature], dtype=np.float32), "FP32"),
        ]
        if completion.seed is not None:
            tensors.append(("SEED", np.array([completion.seed], dtype=np.int64), "INT64"))
    except OverflowError as exc:
        raise BackendRejected(f"a generation parameter is out of range: {exc}") from exc
    if completion.json_schema is not None:
        tensors.append(("JSON_SCHEMA", encode_strings([completion.json_schema]), "BYTES"))
    inputs = []
    for name, values, datatype in tensors:
        tensor = InferInput(name, list(values.shape), datatype)
        tensor.set_data_from_numpy(values)
        inputs.append(tensor)
    return inputs
