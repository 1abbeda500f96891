"""Continuous batching: one thread runs every live stream's next token in one forward pass.

Requests join between steps: waiting ones are prefilled together into free cache slots,
then every running stream decodes one token per step, each under its own constraint
(JSON schema or grammar masks filled in parallel), temperature and seed. A stream leaves
as soon as it stops, runs out of tokens or is cancelled, freeing its slot for the next.
"""

from __future__ import annotations

import codecs
import contextlib
import heapq
import logging
import queue
import threading
from dataclasses import dataclass, field
from typing import Protocol

import llguidance
import torch

from services.inference.completion import CompletionEnd, CompletionRejectedError, CompletionRequest
from services.inference.torch_llama.constraints import GrammarCompiler
from services.inference.torch_llama.transformer import SlotTransformer
from shared.models.local_gguf import GgufTokenizer

log = logging.getLogger(__name__)

_IDLE_WAIT_S = 0.05
# Asking a sink whether its client went away can cost a round trip (Triton's stub asks
# the server): ask every few steps, not every token.
_CANCEL_CHECK_EVERY = 8


class TokenSink(Protocol):
    """Where a stream's output goes; called from the engine's thread, in order."""

    def text(self, delta: str) -> None: ...

    def end(self, totals: CompletionEnd) -> None: ...

    def fail(self, error: Exception) -> None: ...

    def cancelled(self) -> bool: ...


@dataclass
class _Stream:
    request: CompletionRequest
    sink: TokenSink
    prompt: list[int]
    matcher: llguidance.LLMatcher | None
    generator: torch.Generator | None
    slot: int = -1
    position: int = 0  # tokens of this stream in its cache slot
    last_token: int = 0
    output_tokens: int = 0
    decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace")
    )


class BatchingEngine:
    """Serves ``CompletionRequest``s on a ``SlotTransformer``, one background thread.

    ``submit`` validates (prompt fits the context, constraint compiles) on the caller's
    thread and raises ``CompletionRejectedError``; everything after that reaches the sink.

    Example::

        engine = BatchingEngine(model, tokenizer)
        engine.start()
        engine.submit(CompletionRequest(prompt=prompt, json_schema=schema), sink)
        ...
        engine.stop()
    """

    def __init__(
        self,
        model: SlotTransformer,
        tokenizer: GgufTokenizer,
        *,
        max_prefill_tokens: int = 16384,
    ) -> None:
        self._model = model
        self._tokenizer = tokenizer
        self._grammars = GrammarCompiler(tokenizer)
        self._end_ids = tokenizer.end_of_generation_ids
        self._max_prefill_tokens = max_prefill_tokens
        self._waiting: queue.SimpleQueue[_Stream] = queue.SimpleQueue()
        self._held: _Stream | None = None  # taken from the queue, waiting for room
        self._running: dict[int, _Stream] = {}  # by slot
        self._free_slots = list(range(model.slots))
        self._steps = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="batching-engine", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stopping.set()
        self._thread.join(timeout_s)

    def submit(self, request: CompletionRequest, sink: TokenSink) -> None:
        """Queue ``request``; raises ``CompletionRejectedError`` if it can never run."""
        prompt = self._tokenizer.encode(request.prompt)
        if len(prompt) + request.max_tokens > self._model.max_len:
            raise CompletionRejectedError(
                f"{len(prompt)} prompt tokens + max_tokens {request.max_tokens} exceed "
                f"the context window of {self._model.max_len}"
            )
        generator = None
        if request.temperature > 0:
            generator = torch.Generator(device=self._model.device)
            generator.manual_seed(request.seed if request.seed is not None else 0)
        matcher = self._grammars.matcher(request)
        self._waiting.put(_Stream(request, sink, prompt, matcher, generator))

    @torch.inference_mode()
    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._steps += 1
                if self._steps % _CANCEL_CHECK_EVERY == 0:
                    self._drop_cancelled()
                admitted = self._admit()
                if admitted:
                    self._prefill(admitted)
                elif self._running:
                    self._decode()
                else:
                    self._wait_for_work()
            except Exception as exc:  # a failed step must not leave any stream waiting
                log.exception("batching engine step failed")
                for stream in list(self._running.values()):
                    self._finish(stream, error=exc)

    def _wait_for_work(self) -> None:
        with contextlib.suppress(queue.Empty):
            self._held = self._waiting.get(timeout=_IDLE_WAIT_S)

    def _drop_cancelled(self) -> None:
        for stream in list(self._running.values()):
            if stream.sink.cancelled():
                self._finish(stream, reason="stop")

    def _admit(self) -> list[_Stream]:
        admitted: list[_Stream] = []
        budget = self._max_prefill_tokens
        while self._free_slots:
            stream = self._held
            self._held = None
            if stream is None:
                try:
                    stream = self._waiting.get_nowait()
                except queue.Empty:
                    break
            if stream.sink.cancelled():
                self._finish(stream, reason="stop")
                continue
            if admitted and len(stream.prompt) > budget:
                self._held = stream
                break
            budget -= len(stream.prompt)
            stream.slot = heapq.heappop(self._free_slots)
            admitted.append(stream)
        return admitted

    def _prefill(self, streams: list[_Stream]) -> None:
        for stream in streams:  # running from here, so a failed prefill reaches their sinks
            stream.position = len(stream.prompt)
            self._running[stream.slot] = stream
        logits = self._model.prefill([s.slot for s in streams], [s.prompt for s in streams])
        self._advance(streams, logits)

    def _decode(self) -> None:
        width = max(self._running) + 1
        tokens = torch.zeros(width, dtype=torch.long)
        positions = torch.zeros(width, dtype=torch.long)
        for slot, stream in self._running.items():
            tokens[slot] = stream.last_token
            positions[slot] = stream.position
        logits = self._model.decode(tokens, positions)
        streams = list(self._running.values())
        for stream in streams:
            stream.position += 1
        rows = torch.tensor([s.slot for s in streams], device=logits.device)
        self._advance(streams, logits[rows])

    def _advance(self, streams: list[_Stream], logits: torch.Tensor) -> None:
        for stream, token in zip(streams, self._sample(streams, logits), strict=True):
            self._take(stream, token)

    def _sample(self, streams: list[_Stream], logits: torch.Tensor) -> list[int]:
        bitmask = self._grammars.fill([s.matcher for s in streams])
        if bitmask is not None:
            _apply_bitmask(logits, torch.from_numpy(bitmask).to(logits.device))
        chosen = logits.argmax(dim=-1)
        for row, stream in enumerate(streams):
            if stream.generator is not None:
                probabilities = torch.softmax(logits[row] / stream.request.temperature, dim=-1)
                chosen[row] = torch.multinomial(probabilities, 1, generator=stream.generator)[0]
        return [int(token) for token in chosen.tolist()]

    def _take(self, stream: _Stream, token: int) -> None:
        if token in self._end_ids:
            self._finish(stream, reason="stop")
            return
        if stream.matcher is not None and not stream.matcher.consume_token(token):
            self._finish(stream, error=RuntimeError(stream.matcher.get_error()))
            return
        stream.output_tokens += 1
        stream.last_token = token
        text = stream.decoder.decode(self._tokenizer.token_bytes(token))
        if text:
            stream.sink.text(text)
        if stream.matcher is not None and stream.matcher.is_stopped():
            self._finish(stream, reason="stop")
        elif stream.output_tokens >= stream.request.max_tokens:
            self._finish(stream, reason="length")

    def _finish(
        self, stream: _Stream, *, reason: str = "stop", error: Exception | None = None
    ) -> None:
        self._release(stream)
        if error is not None:
            stream.sink.fail(error)
            return
        tail = stream.decoder.decode(b"", final=True)
        if tail:
            stream.sink.text(tail)
        stream.sink.end(
            CompletionEnd(
                finish_reason=reason,
                input_tokens=len(stream.prompt),
                output_tokens=stream.output_tokens,
            )
        )

    def _release(self, stream: _Stream) -> None:
        if self._running.pop(stream.slot, None) is not None:
            heapq.heappush(self._free_slots, stream.slot)


def _apply_bitmask(logits: torch.Tensor, bitmask: torch.Tensor) -> None:
    """Set the logits of tokens whose bit is clear to -inf (bit t%32 of word t//32)."""
    bits = torch.arange(32, device=logits.device, dtype=torch.int32)
    allowed = ((bitmask.unsqueeze(-1) >> bits) & 1).bool().flatten(1)[:, : logits.shape[1]]
    logits.masked_fill_(~allowed, float("-inf"))
