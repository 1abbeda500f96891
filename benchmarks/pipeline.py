"""`make bench`: end-to-end latency, throughput and per-step timings of the pipeline.

Runs the refund, order-status and product-question conversations in turn, embedded (six
services in one process over the in-memory bus) and over Kafka (six OS processes against
a real loopback broker), each with telemetry off and on ("-traced": spans to the local
file embedded; traces and metrics over OTLP to a real Jaeger over Kafka). The model is
the zero-latency scripted stand-in, so the figures are orchestration overhead plus the
real MiniLM embedding, retrieval and SQLite tool work.

Example: `python -m benchmarks.pipeline --mode kafka --requests 90 --concurrency 4`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.render import render_mode, render_telemetry_cost
from benchmarks.stats import Sample, summarize
from benchmarks.targets import SCRIPTED_MODEL_ENV, TARGETS, Target
from benchmarks.workload import WORKLOAD, message_for
from shared.client import ConduitClient
from shared.config import repo_root

MIN_REQUESTS = 50
MODEL_NOTE = (
    "MODEL: zero-latency SCRIPTED STAND-IN (CONDUIT_INFERENCE_BACKEND=scripted), not the "
    "real LLM.\nFigures isolate orchestration overhead plus the real MiniLM embedding, "
    "retrieval and SQLite tool work."
)


@dataclass(frozen=True)
class Plan:
    """How much to run per mode; every wait is bounded."""

    requests: int
    concurrency: int
    warmup: int
    request_timeout_s: float
    startup_timeout_s: float
    budget_s: float


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.pipeline", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--mode", choices=[*TARGETS, "all"], nargs="+", default=["all"])
    parser.add_argument("--requests", type=_at_least(MIN_REQUESTS), default=60)
    parser.add_argument("--concurrency", type=_at_least(1), default=1)
    parser.add_argument("--warmup", type=_at_least(0), default=len(WORKLOAD))
    parser.add_argument("--request-timeout", type=float, default=30.0)
    parser.add_argument("--startup-timeout", type=float, default=180.0)
    parser.add_argument(
        "--budget", type=float, default=300.0, help="stop issuing requests after this many s"
    )
    parser.add_argument("--output", type=Path, default=repo_root() / "bench/results/pipeline.json")
    return parser


def _at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


async def _ask(
    client: ConduitClient, index: int, session_prefix: str, timeout_s: float, run: int
) -> Sample:
    message = message_for(index, run)
    started = time.perf_counter_ns()
    try:
        # A distinct session per request: no conversation state carries between requests.
        response = await client.ask(
            message.text, session_id=f"{session_prefix}-{index}", timeout_s=timeout_s
        )
    except TimeoutError:
        elapsed_us = (time.perf_counter_ns() - started) // 1000
        return Sample(message.workflow, "timeout", elapsed_us, ())
    return Sample.of(
        message.workflow, response, end_to_end_us=(time.perf_counter_ns() - started) // 1000
    )


async def _measure(
    client: ConduitClient, plan: Plan, mode: str, run: int
) -> tuple[list[Sample], float]:
    for index in range(plan.requests, plan.requests + plan.warmup):
        # The first requests over Kafka also wait for consumer groups to settle. Numbered
        # after the measured ones, so none of their texts is seen before it is measured.
        await _ask(client, index, f"bench-{mode}-warmup", plan.startup_timeout_s, run)
    pending = iter(range(plan.requests))
    samples: list[Sample] = []
    deadline = time.monotonic() + plan.budget_s

    async def worker() -> None:
        for index in pending:
            if time.monotonic() > deadline:
                return
            samples.append(await _ask(client, index, f"bench-{mode}", plan.request_timeout_s, run))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(plan.concurrency)))
    return samples, time.perf_counter() - started


async def run_mode(mode: str, target: Target, plan: Plan, run: int = 0) -> dict[str, object]:
    """Measure one deployment; `run` numbers this run's texts apart from other runs'."""
    with tempfile.TemporaryDirectory(prefix=f"conduit-bench-{mode}-") as data_dir:
        async with target(Path(data_dir), plan.startup_timeout_s) as client:
            load_before = os.getloadavg()
            samples, wall_s = await _measure(client, plan, mode, run)
            load_after = os.getloadavg()
    return {
        "mode": mode,
        "concurrency": plan.concurrency,
        "warmup": plan.warmup,
        "cpus": os.cpu_count(),
        "load_average": {"before": load_before, "after": load_after},
        **summarize(samples, wall_s=wall_s),
    }


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    # Before any service is built: the inference service reads its backend from here.
    os.environ.update(SCRIPTED_MODEL_ENV)
    plan = Plan(
        requests=args.requests,
        concurrency=args.concurrency,
        warmup=args.warmup,
        request_timeout_s=args.request_timeout,
        startup_timeout_s=args.startup_timeout,
        budget_s=args.budget,
    )
    modes = list(TARGETS) if "all" in args.mode else list(dict.fromkeys(args.mode))
    print(f"{'=' * 88}\n{MODEL_NOTE}\n{'=' * 88}", flush=True)
    reports: dict[str, dict[str, object]] = {}
    for mode in modes:
        print(f"\nrunning {mode} ...", flush=True)
        reports[mode] = asyncio.run(run_mode(mode, TARGETS[mode], plan, run=len(reports)))
        print(render_mode(mode, reports[mode]), flush=True)
    telemetry_cost = render_telemetry_cost(reports)
    if telemetry_cost is not None:
        print(f"\n{telemetry_cost}", flush=True)
    results = {
        "model": "scripted stand-in (zero latency); not the real LLM",
        "note": MODEL_NOTE.replace("\n", " "),
        "workload": [{"workflow": m.workflow, "text": m.text} for m in WORKLOAD],
        "host": {"python": platform.python_version(), "machine": platform.machine()},
        "created_unix": int(time.time()),
        "modes": reports,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults written to {args.output}")
    incomplete = {m: r["outcomes"] for m, r in reports.items() if r["answered"] != r["requests"]}
    if incomplete:
        raise SystemExit(f"some requests got no response: {incomplete}")


if __name__ == "__main__":
    main()
