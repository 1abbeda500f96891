"""`make bench`: how much the orchestration adds to the refund workflow, at three loads.

The refund workflow only (15 steps: screen, classify, retrieve the policy, three rounds of
draft → decide → act on a tool, a last draft and decide, check the answer), each request
refunding its own invoice, so every one runs the full path and pays. The model is the
deterministic zero-latency SCRIPTED STAND-IN and the tools run in the tool-executor's
process (SQLite), so what the steps cost is the real MiniLM embedding and retrieval, the
prompt building, guardrails and tool calls, and nothing waits on a model.

Targets: `embedded` (all six services in one process over the in-memory bus), `kafka`
(each service its own OS process, one replica each, against a real loopback broker) and
`kafka-2x` (two processes of every step service). Each at concurrency 1, 16 and 64; per
cell, after one unmeasured round at that concurrency:

- end to end: from the client's publish to its holding the response;
- orchestration overhead: end to end minus the time inside step handlers (as each step
  measured itself): publishing, every bus crossing, routing and queueing; per hop, divided
  by the bus crossings (steps + 1);
- above the floor: the per-hop overhead minus one bare aiokafka produce→consume hop on the
  same broker (`benchmarks.floor`), the least any hop over that broker costs;
- throughput: answered requests over the cell's wall time;
- CPU per request: user + system CPU of this process, every service process and the
  broker during the cell, from /proc, over answered requests.

Example: `python -m benchmarks.pipeline --targets kafka --concurrency 1 16 --requests 60`
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.chart import write_chart
from benchmarks.cpu import cpu_used, read_groups
from benchmarks.floor import hop_floor_ms
from benchmarks.machine import machine, versions
from benchmarks.refunds import (
    business_db_path,
    create_business_db,
    invoice_id,
    refund_text,
    refunds_per_invoice,
)
from benchmarks.render import (
    HEADLINE_HEADERS,
    headline_rows,
    markdown_table,
    render_cell,
    render_telemetry_cost,
    table,
)
from benchmarks.stats import Sample, summarize
from benchmarks.targets import SCRIPTED_MODEL_ENV, TARGETS, Deployment, Target
from shared.client import ConduitClient
from shared.config import repo_root

MODEL = "deterministic zero-latency SCRIPTED STAND-IN model; in-process tools"
MODEL_NOTE = (
    f"MODEL: {MODEL} (CONDUIT_INFERENCE_BACKEND=scripted), not the real LLM.\n"
    "Steps are the real MiniLM embedding, retrieval, prompt building, guardrails and SQLite "
    "tools;\noverhead is end to end minus the time inside steps."
)
DEFAULT_TARGETS = ("embedded", "kafka", "kafka-2x")
DEFAULT_CONCURRENCY = (1, 16, 64)
RESULTS = repo_root() / "bench/results/pipeline.json"


@dataclass(frozen=True)
class Plan:
    """How much to run per target and cell; every wait is bounded."""

    concurrency: tuple[int, ...]
    requests: int
    rounds: int
    warmup: int
    floor_records: int
    request_timeout_s: float
    startup_timeout_s: float
    cell_budget_s: float

    def measured_at(self, concurrency: int) -> int:
        """At least `requests`, and `rounds` full rounds of `concurrency` requests."""
        return max(self.requests, self.rounds * concurrency)

    @property
    def invoices(self) -> int:
        """One per request a target can ask, warm-up included."""
        return self.warmup + sum(level + self.measured_at(level) for level in self.concurrency)


class RefundWorkload:
    """Asks for the refund of the next unused invoice of `business_db`, each request in its
    own session, and counts the refunds paid."""

    def __init__(self, client: ConduitClient, business_db: Path) -> None:
        self._client = client
        self._business_db = business_db
        self._invoices = itertools.count()

    def refunds(self) -> Counter[str]:
        return refunds_per_invoice(self._business_db)

    async def ask(self, timeout_s: float) -> Sample:
        index = next(self._invoices)
        started = time.perf_counter_ns()
        try:
            response = await self._client.ask(
                refund_text(invoice_id(index)), session_id=f"refund-{index}", timeout_s=timeout_s
            )
        except TimeoutError:
            return Sample("refund", "timeout", (time.perf_counter_ns() - started) // 1000, ())
        elapsed_us = (time.perf_counter_ns() - started) // 1000
        return Sample.of("refund", response, end_to_end_us=elapsed_us)

    async def load(
        self, count: int, concurrency: int, timeout_s: float, budget_s: float
    ) -> tuple[list[Sample], float]:
        """`count` requests, `concurrency` at a time, none started after `budget_s`."""
        remaining = iter(range(count))
        samples: list[Sample] = []
        deadline = time.monotonic() + budget_s

        async def worker() -> None:
            for _ in remaining:
                if time.monotonic() > deadline:
                    return
                samples.append(await self.ask(timeout_s))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return samples, time.perf_counter() - started


async def run_cell(
    deployment: Deployment,
    requests: RefundWorkload,
    plan: Plan,
    concurrency: int,
    floor_ms: dict[str, float] | None,
) -> dict[str, object]:
    """One concurrency level: a round to fill the pipeline, then the measured requests."""
    await requests.load(concurrency, concurrency, plan.request_timeout_s, plan.cell_budget_s)
    groups = deployment.cpu_groups()
    paid_before = requests.refunds().total()
    load_before = os.getloadavg()
    cpu_before = read_groups(groups)
    samples, wall_s = await requests.load(
        plan.measured_at(concurrency), concurrency, plan.request_timeout_s, plan.cell_budget_s
    )
    cpu_s = cpu_used(cpu_before, read_groups(groups))
    return {
        "concurrency": concurrency,
        "warmup": concurrency,
        **summarize(samples, wall_s=wall_s, cpu_s=cpu_s, floor_ms=floor_ms),
        "refunds_paid": requests.refunds().total() - paid_before,
        "load_average": {"before": load_before, "after": os.getloadavg()},
    }


async def run_target(name: str, target: Target, plan: Plan) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"conduit-bench-{name}-") as data_dir:
        business_db = business_db_path(Path(data_dir))
        create_business_db(business_db, invoices=plan.invoices)
        async with target(Path(data_dir), plan.startup_timeout_s) as deployment:
            floor_ms = None
            if deployment.bootstrap is not None:  # while the broker has nothing else to do
                floor_ms = await hop_floor_ms(deployment.bootstrap, records=plan.floor_records)
                print(
                    f"  produce→consume floor on this broker, {plan.floor_records} records (ms): "
                    f"{floor_ms}",
                    flush=True,
                )
            requests = RefundWorkload(deployment.client, business_db)
            # The first requests over Kafka also wait for the consumer groups to settle.
            await requests.load(plan.warmup, 1, plan.startup_timeout_s, plan.startup_timeout_s)
            cells = []
            for concurrency in plan.concurrency:
                cells.append(await run_cell(deployment, requests, plan, concurrency, floor_ms))
                print(render_cell(name, cells[-1]), flush=True)
            paid = requests.refunds()
    return {
        "description": (target.__doc__ or "").strip().split("\n")[0],
        "service_processes": deployment.service_processes,
        "hop_floor_ms": floor_ms,
        "hop_floor_records": plan.floor_records if floor_ms is not None else 0,
        "invoices_refunded_twice": sum(1 for count in paid.values() if count > 1),
        "cells": cells,
    }


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    # Before any service is built: the inference service reads its backend from here.
    os.environ.update(SCRIPTED_MODEL_ENV)
    plan = Plan(
        concurrency=tuple(dict.fromkeys(args.concurrency)),
        requests=args.requests,
        rounds=args.rounds,
        warmup=args.warmup,
        floor_records=args.floor_records,
        request_timeout_s=args.request_timeout,
        startup_timeout_s=args.startup_timeout,
        cell_budget_s=args.cell_budget,
    )
    names = list(dict.fromkeys(args.targets))
    print(f"{'=' * 88}\n{MODEL_NOTE}\n{'=' * 88}", flush=True)
    started = datetime.now(UTC)
    targets: dict[str, dict[str, Any]] = {}
    for name in names:
        print(f"\nrunning {name} ...", flush=True)
        targets[name] = asyncio.run(run_target(name, TARGETS[name], plan))
    results = {
        "benchmark": "make bench: orchestration overhead of the refund workflow",
        "model": MODEL,
        "workflow": "refund (one refundable invoice per request)",
        "definitions": _definitions(),
        "machine": machine(),
        "versions": versions(kafka=any(t["hop_floor_ms"] is not None for t in targets.values())),
        "started_utc": started.isoformat(timespec="seconds"),
        "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "plan": {
            "requests_per_cell": {level: plan.measured_at(level) for level in plan.concurrency},
            "warmup_per_cell": "one round at the cell's concurrency",
            "warmup_per_target": plan.warmup,
            "request_timeout_s": plan.request_timeout_s,
        },
        "targets": targets,
    }
    rows = headline_rows(targets)
    print(f"\n=== {MODEL} ===\n{table(HEADLINE_HEADERS, rows)}", flush=True)
    telemetry_cost = render_telemetry_cost(targets)
    if telemetry_cost is not None:
        print(f"\n{telemetry_cost}", flush=True)
    print(f"\nas Markdown:\n\n{markdown_table(HEADLINE_HEADERS, rows)}\n", flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    write_chart(results, args.output.with_suffix(".png"))
    print(f"results written to {args.output} and {args.output.with_suffix('.png')}")
    check_every_request_paid_once(targets)


def _definitions() -> dict[str, str]:
    return {
        "end_to_end_ms": "client publish to the client holding the response",
        "in_steps_ms": "sum of the step handlers' own durations (Response.steps)",
        "overhead_ms": "end to end minus in steps: publishing, bus crossings, routing, "
        "queueing for a consumer slot or the event loop",
        "overhead_per_hop_ms": "overhead / (steps + 1) bus crossings, per request",
        "hop_floor_ms": "one bare aiokafka produce->consume on the same broker, "
        "acks=all, idempotent, one record at a time",
        "overhead_per_hop_above_floor_ms": "overhead per hop minus the floor, per percentile",
        "cpu_ms_per_request": "user+system CPU of each process group during the measured "
        "requests (from /proc), over answered requests",
    }


def check_every_request_paid_once(targets: Mapping[str, Mapping[str, Any]]) -> None:
    """Every measured request answered and paid once, or the figures are of another path."""
    problems = {}
    for name, target in targets.items():
        cells = target["cells"]
        unanswered = {
            c["concurrency"]: c["outcomes"] for c in cells if c["answered"] != c["requests"]
        }
        unpaid = {
            c["concurrency"]: c["answered"] - c["refunds_paid"]
            for c in cells
            if c["refunds_paid"] != c["answered"]
        }
        if unanswered or unpaid or target["invoices_refunded_twice"]:
            problems[name] = {
                "unanswered": unanswered,
                "answered_minus_paid": unpaid,
                "refunded_twice": target["invoices_refunded_twice"],
            }
    if problems:
        raise SystemExit(f"requests unanswered, unpaid or paid twice: {problems}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.pipeline", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--targets", choices=TARGETS, nargs="+", default=list(DEFAULT_TARGETS))
    parser.add_argument(
        "--concurrency", type=_at_least(1), nargs="+", default=list(DEFAULT_CONCURRENCY)
    )
    parser.add_argument(
        "--requests", type=_at_least(20), default=60, help="measured requests per cell, at least"
    )
    parser.add_argument(
        "--rounds", type=_at_least(1), default=2, help="and at least this many times concurrency"
    )
    parser.add_argument("--warmup", type=_at_least(1), default=5, help="per target, one by one")
    parser.add_argument("--floor-records", type=_at_least(20), default=300)
    parser.add_argument("--request-timeout", type=float, default=60.0)
    parser.add_argument("--startup-timeout", type=float, default=180.0)
    parser.add_argument(
        "--cell-budget", type=float, default=120.0, help="stop issuing a cell's requests after s"
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="the PNG goes beside it")
    return parser


def _at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


if __name__ == "__main__":
    main()
