"""`make soak`: thousands of concurrent requests through six service processes over Kafka.

Refund, order-status and product requests in turn, each on its own session and each
refund on its own invoice, against a throwaway loopback broker. It counts what matters
under sustained load: requests with no response (lost), invoices paid more than once
(duplicated side effects) and requests answered more than once; and reports throughput,
end-to-end latency percentiles and each service's resident memory along the way.
The model is the zero-latency scripted stand-in.

Example: `python -m benchmarks.soak --requests 2000 --concurrency 64`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.stats import percentile
from shared.config import repo_root
from shared.testing import KafkaServer
from tests.chaos.harness import KINDS, ChaosStack, Delivery, LoadRun, Traffic, run_load

MODEL_NOTE = "MODEL: zero-latency SCRIPTED STAND-IN (CONDUIT_INFERENCE_BACKEND=scripted)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.soak", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rss-every", type=int, default=1000, help="sample RSS this often")
    parser.add_argument("--request-timeout", type=float, default=120.0)
    parser.add_argument("--output", type=Path, default=repo_root() / "bench/results/soak.json")
    return parser


async def _soak(stack: ChaosStack, args: argparse.Namespace) -> tuple[LoadRun, Delivery]:
    async with Traffic(stack) as traffic:
        for kind in KINDS:
            # The first requests also wait for every consumer group to settle.
            await traffic.ask(kind, args.request_timeout)
        run = await run_load(
            traffic,
            requests=args.requests,
            concurrency=args.concurrency,
            rss_every=args.rss_every,
            timeout_s=args.request_timeout,
        )
        await traffic.wait_for(run.sent, timeout_s=args.request_timeout)
        return run, traffic.delivery(run.sent)


def _report(run: LoadRun, delivery: Delivery, args: argparse.Namespace) -> dict[str, object]:
    latencies_ms = [s * 1000 for s in delivery.latencies_s()]
    refunds = [s for s in delivery.sent if s.invoice_id is not None]
    return {
        "model": "scripted stand-in (zero latency); not the real LLM",
        "requests": len(delivery.sent),
        "concurrency": args.concurrency,
        "cpus": os.cpu_count(),
        "wall_s": round(run.wall_s, 2),
        "throughput_rps": round(len(latencies_ms) / run.wall_s, 2),
        "end_to_end_ms": {
            f"p{q}": round(percentile(latencies_ms, q), 1) for q in (50, 95, 99, 100)
        },
        "outcomes": dict(delivery.outcomes()),
        "lost": len(delivery.lost),
        "client_timeouts": run.timeouts,
        "answered_more_than_once": len(delivery.answered_more_than_once),
        "refunds": len(refunds),
        "payments": sum(delivery.payments[s.invoice_id] for s in refunds if s.invoice_id),
        "invoices_paid_more_than_once": delivery.double_paid,
        "rss_kib_after_completed": {str(k): v for k, v in sorted(run.rss_kib.items())},
    }


def _render(report: dict[str, object]) -> str:
    rss = report["rss_kib_after_completed"]
    assert isinstance(rss, dict)
    services = sorted({name for sizes in rss.values() for name in sizes})
    header = f"{'service':<16}" + "".join(f"{'after ' + k:>14}" for k in rss)
    rows = [
        f"{name:<16}" + "".join(f"{sizes.get(name, 0) / 1024:>11.1f} MiB" for sizes in rss.values())
        for name in services
    ]
    summary = {k: v for k, v in report.items() if k != "rss_kib_after_completed"}
    lines = [f"{key:<32}{value}" for key, value in summary.items()]
    return "\n".join([*lines, "", "resident memory (VmRSS):", header, *rows])


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    print(f"{'=' * 88}\n{MODEL_NOTE}\n{'=' * 88}", flush=True)
    started = time.perf_counter()
    with KafkaServer() as kafka, tempfile.TemporaryDirectory(prefix="conduit-soak-") as data:
        stack = ChaosStack(kafka, Path(data), invoices=args.requests + len(KINDS))
        stack.start()
        try:
            print(f"stack up in {time.perf_counter() - started:.1f} s; soaking ...", flush=True)
            run, delivery = asyncio.run(_soak(stack, args))
        finally:
            stack.stop()
    report = _report(run, delivery, args)
    print(_render(report))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nresults written to {args.output}")
    if delivery.lost or delivery.double_paid:
        raise SystemExit(
            f"{len(delivery.lost)} requests lost, invoices paid twice: {delivery.double_paid}"
        )


if __name__ == "__main__":
    main()
