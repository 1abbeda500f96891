"""Triton python-backend model: SmolLM2 on the instance's GPU, continuously batched.

``execute`` only validates and queues: the engine's thread streams every request's tokens
through its response sender, so one instance serves all concurrent streams in one batch.
"""

import json
import sys
import time
from pathlib import Path
from typing import Any

# The backend stub imports this file by path and ignores PYTHONPATH (see smollm2.py).
_REPO_ROOT = Path(__file__).resolve().parents[5]
if str(_REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(_REPO_ROOT))

import torch  # noqa: E402

from services.inference.completion import CompletionEnd  # noqa: E402
from services.inference.torch_llama.engine import BatchingEngine  # noqa: E402
from services.inference.torch_llama.transformer import SlotTransformer  # noqa: E402
from services.inference.triton_stream_io import (  # noqa: E402
    FINAL,
    completion_request,
    final_response,
    send_error,
    text_response,
)
from shared.models.gguf_file import GgufFile  # noqa: E402
from shared.models.local_gguf import GgufTokenizer, locate_smollm2_gguf  # noqa: E402


class TritonPythonModel:
    """Decoupled: a TEXT_DELTA response per token, then a final response with the totals."""

    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        parameters = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        device = parameters.get("device", "instance")
        if device == "instance":  # the device Triton placed this instance on
            on_gpu = args.get("model_instance_kind") == "GPU"
            device = f"cuda:{args.get('model_instance_device_id', '0')}" if on_gpu else "cpu"
        path = locate_smollm2_gguf()
        model = SlotTransformer(
            GgufFile.read(path),
            slots=int(parameters["slots"]),
            max_len=int(parameters["max_len"]),
            device=device,
            dtype=getattr(torch, parameters["dtype"]),
        )
        started = time.perf_counter()
        try:
            worst = model.capture_graphs()
            outcome = f"widths {model.graph_widths}, max |logit diff| vs eager {worst:.4f}"
        except RuntimeError as exc:  # the engine still serves, eagerly
            outcome = f"not used: {exc}"
        elapsed = time.perf_counter() - started
        print(f"smollm2_gpu on {device}: decode graphs {outcome} ({elapsed:.1f}s)", flush=True)
        self._engine = BatchingEngine(model, GgufTokenizer(path))
        self._engine.start()

    def execute(self, requests: list[Any]) -> None:
        for request in requests:
            sender = request.get_response_sender()
            try:
                self._engine.submit(completion_request(request), _TritonSink(sender))
            except Exception as exc:  # reported to the client, which would otherwise hang
                send_error(sender, exc)

    def finalize(self) -> None:
        self._engine.stop()


class _TritonSink:
    def __init__(self, sender: Any) -> None:
        self._sender = sender

    def text(self, delta: str) -> None:
        self._sender.send(text_response(delta))

    def end(self, totals: CompletionEnd) -> None:
        if self._sender.is_cancelled():
            self._sender.send(flags=FINAL)
            return
        self._sender.send(final_response(totals), flags=FINAL)

    def fail(self, error: Exception) -> None:
        send_error(self._sender, error)

    def cancelled(self) -> bool:
        return bool(self._sender.is_cancelled())

