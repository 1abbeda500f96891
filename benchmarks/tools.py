"""`make bench-tools`: the latency each tool kind adds, through the tool-executor's whole
handle path (checks, idempotency ledger claim and completion, vault steps, audit).

One read-only tool per kind answers the same small question (a service's health): Python
in-process (`lookup_invoice`, for the baseline), HTTP (the IT-ops API under uvicorn), MCP
over stdio (a child of the tool-executor) and MCP over streamable HTTP. Each call is a new
step (a new idempotency key), so nothing is replayed. Calls run one at a time, after warm-up
calls that open the connections.

Example: `python -m benchmarks.tools --calls 300 --output bench/results/tools.json`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.render import table
from benchmarks.stats import percentile
from services.tool_executor.service import ToolExecutor
from shared.config import repo_root
from shared.runtime import StepCall
from tests.fixtures.itops import API_TOKEN, ItopsProcess, tool_executor, write_config
from tests.fixtures.tool_events import refund_event, request_calls

ACT = StepCall(workflow="bench", step_id="act")
WARM_UP_CALLS = 10
KINDS: dict[str, tuple[str, dict[str, Any]]] = {
    "python (in-process)": ("lookup_invoice", {"invoice_id": "INV-1001"}),
    "http (uvicorn, loopback)": ("service_health", {"service": "payments"}),
    "mcp stdio": ("stdio_service_health", {"service": "payments"}),
    "mcp streamable HTTP": ("remote_service_health", {"service": "payments"}),
}


async def _latencies_ms(
    executor: ToolExecutor, tool: str, arguments: dict[str, Any], calls: int
) -> list[float]:
    event = refund_event(roles=("customer", "it_operator"))
    samples = []
    for number in range(WARM_UP_CALLS + calls):
        event.envelope.workflow.steps_taken = number
        request_calls(event, (tool, arguments))
        started = time.perf_counter()
        await executor.handle(event, ACT)
        elapsed = (time.perf_counter() - started) * 1000
        exchange = event.tool_exchanges[-1]
        if not exchange.ok:
            raise SystemExit(f"{tool} failed: {exchange.error.code}: {exchange.error.message}")
        if number >= WARM_UP_CALLS:
            samples.append(elapsed)
    return samples


async def run(
    calls: int, workdir: Path, api: ItopsProcess, mcp_http: ItopsProcess
) -> dict[str, Any]:
    os.environ["ITOPS_API_URL"] = api.url
    os.environ["ITOPS_API_TOKEN"] = API_TOKEN
    http_tool = {
        "description": "Service health over the IT-ops API.",
        "kind": "http",
        "openapi": {
            "spec": "openapi/itops.yaml",
            "operation": "serviceHealth",
            "base_url_env": "ITOPS_API_URL",
        },
        "auth": {"scheme": "bearer", "secret_env": "ITOPS_API_TOKEN"},
        "side_effect": False,
        "safe_to_retry": True,
        "roles": ["it_operator"],
    }
    server = {"roles": ["it_operator"], "tools": {"create_ticket": {"side_effect": False}}}
    servers = {
        "stdio": {
            **server,
            "transport": "stdio",
            "command": "python",
            "args": ["-m", "examples.itops.mcp_server"],
            "env": {"PYTHONPATH": str(repo_root())},
        },
        "remote": {**server, "transport": "streamable_http", "url": f"{mcp_http.url}/mcp"},
    }
    config = write_config(
        workdir / "config", tools={"service_health": http_tool}, mcp_servers=servers
    )
    executor = tool_executor(config, workdir / "var")
    await executor.open()
    results: dict[str, Any] = {}
    try:
        for kind, (tool, arguments) in KINDS.items():
            samples = await _latencies_ms(executor, tool, arguments, calls)
            results[kind] = {
                "tool": tool,
                "calls": len(samples),
                "p50_ms": round(percentile(samples, 50), 3),
                "p95_ms": round(percentile(samples, 95), 3),
                "mean_ms": round(sum(samples) / len(samples), 3),
            }
    finally:
        await executor.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument(
        "--output", type=Path, default=repo_root() / "bench" / "results" / "tools.json"
    )
    options = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="conduit-bench-tools-") as workdir,
        ItopsProcess("examples.itops.http_api") as api,
        ItopsProcess("examples.itops.mcp_server", "--http") as mcp_http,
    ):
        results = asyncio.run(run(options.calls, Path(workdir), api, mcp_http))
    baseline = results["python (in-process)"]["p50_ms"]
    rows = [
        [kind, r["calls"], r["p50_ms"], r["p95_ms"], round(r["p50_ms"] - baseline, 3)]
        for kind, r in results.items()
    ]
    print(table(["kind", "calls", "p50 ms", "p95 ms", "p50 over python ms"], rows))
    report = {
        "benchmark": "tools",
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "kinds": results,
    }
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {options.output}")


if __name__ == "__main__":
    main()
