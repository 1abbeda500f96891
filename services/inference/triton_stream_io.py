"""What the token-streaming Triton models share: reading a completion request off a Triton
request and writing deltas, totals and errors back. Imported only inside Triton's python
backend stub, where ``triton_python_backend_utils`` exists."""

from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils  # type: ignore[import-not-found]

from services.inference.completion import (
    DEFAULT_MAX_TOKENS,
    CompletionEnd,
    CompletionRejectedError,
    CompletionRequest,
)
from services.inference.triton_repository import decode_strings, encode_strings

FINAL = pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL


def completion_request(request: Any) -> CompletionRequest:
    """The request's inputs as a ``CompletionRequest``; raises ``CompletionRejectedError``."""
    return CompletionRequest(
        prompt=_text(request, "PROMPT") or "",
        max_tokens=int(_scalar(request, "MAX_TOKENS", DEFAULT_MAX_TOKENS)),
        temperature=float(_scalar(request, "TEMPERATURE", 0.0)),
        seed=_optional_int(request, "SEED"),
        grammar=_text(request, "GRAMMAR"),
        json_schema=_text(request, "JSON_SCHEMA"),
    )


def text_response(delta: str) -> Any:
    return pb_utils.InferenceResponse(
        output_tensors=[pb_utils.Tensor("TEXT_DELTA", encode_strings([delta]))]
    )


def final_response(end: CompletionEnd) -> Any:
    return pb_utils.InferenceResponse(
        output_tensors=[
            pb_utils.Tensor("TEXT_DELTA", encode_strings([""])),
            pb_utils.Tensor("FINISH_REASON", encode_strings([end.finish_reason])),
            pb_utils.Tensor("INPUT_TOKENS", np.array([end.input_tokens], dtype=np.int32)),
            pb_utils.Tensor("OUTPUT_TOKENS", np.array([end.output_tokens], dtype=np.int32)),
        ]
    )


def send_error(sender: Any, error: Exception) -> None:
    """End the stream with ``error``; a rejection keeps the prefix clients map to one."""
    name = type(error).__name__
    if isinstance(error, CompletionRejectedError):
        name = CompletionRejectedError.__name__
    response = pb_utils.InferenceResponse(error=pb_utils.TritonError(f"{name}: {error}"))
    sender.send(response, flags=FINAL)


def _text(request: Any, name: str) -> str | None:
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    return None if tensor is None else decode_strings(tensor.as_numpy())[0]


def _scalar(request: Any, name: str, default: float) -> Any:
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    return default if tensor is None else tensor.as_numpy().reshape(-1)[0]


def _optional_int(request: Any, name: str) -> int | None:
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    return None if tensor is None else int(tensor.as_numpy().reshape(-1)[0])
