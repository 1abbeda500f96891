"""Triton python-backend model: SmolLM2 completions streamed one token per response."""

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

# The backend stub imports this file by path and ignores PYTHONPATH: put the checkout that
# holds this model repository first, so `shared` and `services` come from the same code as
# the model files (not from wherever the venv's editable install happens to point).
_REPO_ROOT = Path(__file__).resolve().parents[5]
if str(_REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(_REPO_ROOT))

import triton_python_backend_utils as pb_utils  # type: ignore[import-not-found]  # noqa: E402

from services.inference.backends.llama_cpp import load_llama  # noqa: E402
from services.inference.token_stream import (  # noqa: E402
    DEFAULT_MAX_TOKENS,
    CompletionEnd,
    CompletionRequest,
    stream_completion,
)
from services.inference.triton_repository import decode_strings, encode_strings  # noqa: E402

FINAL = pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL


class TritonPythonModel:
    """Decoupled: each request gets a TEXT_DELTA response per token, then a final response.

    Any failure ends the stream with a TritonError response, so no client waits forever.
    """

    def initialize(self, args: dict[str, str]) -> None:
        parameters = json.loads(args["model_config"]).get("parameters", {})
        self._llama = load_llama(
            None,
            n_ctx=int(parameters["n_ctx"]["string_value"]),
            n_threads=int(parameters["n_threads"]["string_value"]),
        )

    def execute(self, requests: list[Any]) -> None:
        for request in requests:
            sender = request.get_response_sender()
            try:
                self._stream(request, sender)
            except Exception as exc:  # reported to the client, which would otherwise hang
                error = pb_utils.TritonError(f"{type(exc).__name__}: {exc}")
                sender.send(pb_utils.InferenceResponse(error=error), flags=FINAL)

    def finalize(self) -> None:
        self._llama.close()

    def _stream(self, request: Any, sender: Any) -> None:
        completion = CompletionRequest(
            prompt=_text(request, "PROMPT") or "",
            max_tokens=int(_scalar(request, "MAX_TOKENS", DEFAULT_MAX_TOKENS)),
            temperature=float(_scalar(request, "TEMPERATURE", 0.0)),
            seed=_optional_int(request, "SEED"),
            grammar=_text(request, "GRAMMAR"),
        )
        for item in stream_completion(self._llama, completion):
            if sender.is_cancelled():
                sender.send(flags=FINAL)
                return
            if isinstance(item, CompletionEnd):
                sender.send(_final_response(item), flags=FINAL)
            else:
                delta = pb_utils.Tensor("TEXT_DELTA", encode_strings([item]))
                sender.send(pb_utils.InferenceResponse(output_tensors=[delta]))


def _final_response(end: CompletionEnd) -> Any:
    return pb_utils.InferenceResponse(
        output_tensors=[
            pb_utils.Tensor("TEXT_DELTA", encode_strings([""])),
            pb_utils.Tensor("FINISH_REASON", encode_strings([end.finish_reason])),
            pb_utils.Tensor("INPUT_TOKENS", np.array([end.input_tokens], dtype=np.int32)),
            pb_utils.Tensor("OUTPUT_TOKENS", np.array([end.output_tokens], dtype=np.int32)),
        ]
    )


def _text(request: Any, name: str) -> str | None:
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    return None if tensor is None else decode_strings(tensor.as_numpy())[0]


def _scalar(request: Any, name: str, default: float) -> Any:
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    return default if tensor is None else tensor.as_numpy().reshape(-1)[0]


def _optional_int(request: Any, name: str) -> int | None:
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    return None if tensor is None else int(tensor.as_numpy().reshape(-1)[0])
