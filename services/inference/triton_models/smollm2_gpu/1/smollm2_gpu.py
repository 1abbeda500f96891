"""Triton python-backend model: SmolLM2 on the instance's GPU, continuously batched.

``execute`` only validates and queues: the engine's thread streams every request's tokens
through its response sender, so one instance serves all concurrent streams in one batch.
"""

import json
import sys
import time
from dataclasses import dataclass
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
        self._coalescing = DeltaCoalescing(
            immediate=int(parameters["stream_immediate_deltas"]),
            most=int(parameters["stream_max_deltas"]),
            interval_s=float(parameters["stream_interval_ms"]) / 1000,
        )

    def execute(self, requests: list[Any]) -> None:
        for request in requests:
            sender = request.get_response_sender()
            try:
                sink = _TritonSink(sender, self._coalescing)
                self._engine.submit(completion_request(request), sink)
            except Exception as exc:  # reported to the client, which would otherwise hang
                send_error(sender, exc)

    def finalize(self) -> None:
        self._engine.stop()


@dataclass(frozen=True)
class DeltaCoalescing:
    """When a stream's deltas go out: the first ``immediate`` one by one (the reader sees
    the answer start at once), later ones in groups of up to ``most`` or every
    ``interval_s``. Each response is a round trip between the stub and the server, which
    at one per token per stream, not the GPU, bounds a large batch."""

    immediate: int
    most: int
    interval_s: float


class _TritonSink:
    def __init__(self, sender: Any, coalescing: DeltaCoalescing) -> None:
        self._sender = sender
        self._coalescing = coalescing
        self._pending: list[str] = []
        self._deltas = 0
        self._last_sent = time.monotonic()

    def text(self, delta: str) -> None:
        self._pending.append(delta)
        self._deltas += 1
        rule = self._coalescing
        now = time.monotonic()
        if (
            self._deltas <= rule.immediate
            or len(self._pending) >= rule.most
            or now - self._last_sent >= rule.interval_s
        ):
            self._flush(now)

    def _flush(self, now: float) -> None:
        if self._pending:
            self._sender.send(text_response("".join(self._pending)))
            self._pending.clear()
            self._last_sent = now

    def end(self, totals: CompletionEnd) -> None:
        self._flush(time.monotonic())
        if self._sender.is_cancelled():
            self._sender.send(flags=FINAL)
            return
        self._sender.send(final_response(totals), flags=FINAL)

    def fail(self, error: Exception) -> None:
        send_error(self._sender, error)

    def cancelled(self) -> bool:
        return bool(self._sender.is_cancelled())
