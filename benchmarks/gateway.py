"""`make bench-gateway`: what the gateway adds to a request, over HTTP and over gRPC.

Six service processes and the gateway process over a loopback Kafka broker, with the
deterministic scripted stand-in model (`CONDUIT_INFERENCE_BACKEND=scripted`), so the
figures are orchestration only. Each round asks one question three ways, in an order
that rotates from round to round: `ConduitClient` straight onto the bus (direct), the
gateway's `POST /v1/ask`, and its gRPC `Ask`; one request at a time. Every text is unique
(no cache answers) and every request starts a new session (no history to carry).

Added latency is reported two ways: the difference of the percentiles (gateway p50 minus
direct p50), and the percentiles of the per-round differences (each gateway request minus
the direct request of the same round, same question).

Example: `python -m benchmarks.gateway --requests 200`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import grpc  # type: ignore[import-untyped]
import httpx
import yaml

from benchmarks.render import table
from benchmarks.stats import percentile
from benchmarks.targets import SCRIPTED_MODEL_ENV, KafkaStack, kafka_stack
from benchmarks.workload import message_for
from conduit.gateway_process import start_gateway
from services.gateway.auth import api_key_digest
from services.gateway.http_api import AskResponse
from shared.config import repo_root
from shared.contracts import AskRequest
from shared.contracts.rpc import GatewayStub

PATHS = ("direct", "http", "grpc")
BENCH_KEY = "bench-gateway-key"
# Limits far above what one request at a time can reach: the figures are of the path.
UNLIMITED = {"rate_per_s": 1_000_000, "burst": 1_000_000, "max_in_flight": 10_000}

# Asks `text` in session `session`; returns the outcome (`_outcome`).
Asker = Callable[[str, str], Awaitable[str]]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.gateway", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--requests", type=int, default=150, help="per path (at least 100)")
    parser.add_argument("--warmup", type=int, default=6, help="rounds not measured")
    parser.add_argument("--startup-timeout", type=float, default=180.0)
    parser.add_argument("--request-timeout", type=float, default=60.0)
    parser.add_argument("--output", type=Path, default=repo_root() / "bench/results/gateway.json")
    return parser


def _askers(
    stack: KafkaStack, http: httpx.AsyncClient, stub: Any, timeout_s: float
) -> dict[str, Asker]:
    credentials = {"authorization": f"Bearer {BENCH_KEY}"}

    async def direct(text: str, session: str) -> str:
        response = await stack.client.ask(
            text, session_id=session, user_id="bench", timeout_s=timeout_s
        )
        return _outcome(AskResponse.of(response))

    async def via_http(text: str, session: str) -> str:
        reply = await http.post(
            "/v1/ask", json={"text": text, "session_id": session}, headers=credentials
        )
        return _outcome(AskResponse.model_validate(reply.json()))

    async def via_grpc(text: str, session: str) -> str:
        response = await stub.Ask(
            AskRequest(text=text, session_id=session), metadata=tuple(credentials.items())
        )
        return _outcome(AskResponse.of(response))

    return {"direct": direct, "http": via_http, "grpc": via_grpc}


def _outcome(response: AskResponse) -> str:
    """`answer`, `handoff`, or `error <code>`."""
    return f"error {response.error.code}" if response.error else response.outcome


async def _measure(
    askers: dict[str, Asker], rounds: int, run: int
) -> dict[str, list[tuple[float, str]]]:
    """Per path, (milliseconds, outcome) of each round, in round order."""
    samples: dict[str, list[tuple[float, str]]] = {path: [] for path in PATHS}
    for index in range(rounds):
        order = PATHS[index % len(PATHS) :] + PATHS[: index % len(PATHS)]
        for path in order:
            # The same question on every path of a round; the ticket keeps each text unique.
            text = message_for(index, run=run * 10 + PATHS.index(path)).text
            started = time.perf_counter()
            outcome = await askers[path](text, f"bench-gw-{run}-{path}-{index}")
            samples[path].append(((time.perf_counter() - started) * 1000, outcome))
    return samples


def _summary(samples: dict[str, list[tuple[float, str]]]) -> dict[str, Any]:
    direct = [ms for ms, _ in samples["direct"]]
    report: dict[str, Any] = {}
    for path in PATHS:
        latencies = [ms for ms, _ in samples[path]]
        outcomes: dict[str, int] = {}
        for _, outcome in samples[path]:
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        added = [ms - base for ms, base in zip(latencies, direct, strict=True)]
        report[path] = {
            "requests": len(latencies),
            "outcomes": outcomes,
            "p50_ms": round(percentile(latencies, 50), 2),
            "p95_ms": round(percentile(latencies, 95), 2),
            "added_p50_ms": round(percentile(latencies, 50) - percentile(direct, 50), 2),
            "added_p95_ms": round(percentile(latencies, 95) - percentile(direct, 95), 2),
            "paired_added_p50_ms": round(percentile(added, 50), 2),
            "paired_added_p95_ms": round(percentile(added, 95), 2),
        }
    return report


def _render(report: dict[str, Any]) -> str:
    headers = (
        "path", "n", "p50 ms", "p95 ms", "added p50", "added p95",
        "paired added p50", "paired added p95", "outcomes",
    )  # fmt: skip
    rows = [
        (
            path,
            r["requests"],
            r["p50_ms"],
            r["p95_ms"],
            r["added_p50_ms"],
            r["added_p95_ms"],
            r["paired_added_p50_ms"],
            r["paired_added_p95_ms"],
            ", ".join(f"{k} {v}" for k, v in r["outcomes"].items()),
        )
        for path, r in report.items()
    ]
    return table(headers, rows)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="conduit-bench-gateway-") as tmp:
        data_dir = Path(tmp)
        keys = data_dir / "api_keys.yaml"
        keys.write_text(
            yaml.safe_dump(
                {
                    "keys": [
                        {
                            "name": "bench",
                            "sha256": api_key_digest(BENCH_KEY),
                            "tenant": "default",
                            "roles": ["customer"],
                            "user_id": "bench",
                            "limits": UNLIMITED,
                        }
                    ]
                }
            )
        )
        async with kafka_stack(data_dir, args.startup_timeout, env=SCRIPTED_MODEL_ENV) as stack:
            address = await start_gateway(
                stack.processes,
                env={
                    "CONDUIT_GATEWAY_API_KEYS_FILE": str(keys),
                    "CONDUIT_GATEWAY_REQUEST_TIMEOUT_S": str(args.request_timeout),
                },
                timeout_s=args.startup_timeout,
            )
            async with (
                httpx.AsyncClient(
                    base_url=address.http_url, timeout=args.request_timeout + 10
                ) as http,
                grpc.aio.insecure_channel(address.grpc_target) as channel,
            ):
                askers = _askers(stack, http, GatewayStub(channel), args.request_timeout)
                # Warm-up: consumer groups settle, connections open, the embedder warms.
                await _measure(askers, args.warmup, run=9)
                samples = await _measure(askers, args.requests, run=1)
    return {
        "model": "scripted stand-in (CONDUIT_INFERENCE_BACKEND=scripted): orchestration only",
        "cpus": os.cpu_count(),
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "concurrency": 1,
        "paths": _summary(samples),
    }


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.requests < 100:
        raise SystemExit("--requests must be at least 100 for p95 to mean something")
    print(
        "MODEL: scripted stand-in (CONDUIT_INFERENCE_BACKEND=scripted), so the figures are "
        f"orchestration only; {args.requests} requests per path, interleaved, one at a time",
        flush=True,
    )
    results = asyncio.run(run(args))
    print(_render(results["paths"]))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results written to {args.output}")


if __name__ == "__main__":
    main()
