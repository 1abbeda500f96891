"""Triton python-backend model: SmolLM2 completions streamed one token per response."""

import json
import sys
from pathlib import Path
from typing import Any

# The backend stub imports this file by path and ignores PYTHONPATH: put the checkout that
# holds this model repository first, so `shared` and `services` come from the same code as
# the model files (not from wherever the venv's editable install happens to point).
_REPO_ROOT = Path(__file__).resolve().parents[5]
if str(_REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(_REPO_ROOT))

from services.inference.backends.llama_cpp import load_llama  # noqa: E402
from services.inference.completion import CompletionEnd  # noqa: E402
from services.inference.token_stream import stream_completion  # noqa: E402
from services.inference.triton_stream_io import (  # noqa: E402
    FINAL,
    completion_request,
    final_response,
    send_error,
    text_response,
)


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
                send_error(sender, exc)

    def finalize(self) -> None:
        self._llama.close()

    def _stream(self, request: Any, sender: Any) -> None:
        for item in stream_completion(self._llama, completion_request(request)):
            if sender.is_cancelled():
                sender.send(flags=FINAL)
                return
            if isinstance(item, CompletionEnd):
                sender.send(final_response(item), flags=FINAL)
            else:
                sender.send(text_response(item))
