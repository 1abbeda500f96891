"""`mcp` tools against the IT-ops example MCP server (examples/itops), a real process over
stdio (spawned by the tool-executor) and over streamable HTTP."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from services.tool_executor.service import ToolExecutor
from shared.config import repo_root
from shared.contracts import StepEvent, ToolExchange
from shared.runtime import StepCall
from tests.fixtures.itops import ItopsProcess, tool_executor, write_config
from tests.fixtures.tool_events import refund_event, request_calls

ACT = StepCall(workflow="incident", step_id="act")
FAULT_TOOLS = {"slow_check": {"timeout_s": 0.5}, "create_ticket": {"side_effect": False}}
SERVER = {"roles": ["it_operator"], "tools": FAULT_TOOLS}
STDIO = {
    **SERVER,
    "transport": "stdio",
    "command": "python",
    "args": ["-m", "examples.itops.mcp_server"],
    "env": {"ITOPS_FAULTS": "1", "PYTHONPATH": str(repo_root())},
}


@pytest.fixture(scope="module")
def http_server() -> Iterator[ItopsProcess]:
    with ItopsProcess("examples.itops.mcp_server", "--http") as server:
        yield server


@pytest.fixture
async def executor(http_server: ItopsProcess, tmp_path: Path) -> AsyncIterator[ToolExecutor]:
    servers = {
        "ops": STDIO,
        "remote": {**SERVER, "transport": "streamable_http", "url": f"{http_server.url}/mcp"},
        "broken": {
            **SERVER,
            "transport": "stdio",
            "command": "/nonexistent/mcp-server",
            "connect_timeout_s": 5,
        },
    }
    config = write_config(tmp_path / "config", tools={}, mcp_servers=servers)
    executor = tool_executor(config, tmp_path / "var")
    await executor.open()
    yield executor
    await executor.close()


async def _call(
    executor: ToolExecutor, event: StepEvent, tool: str, **arguments: Any
) -> ToolExchange:
    event.envelope.workflow.steps_taken += 1
    request_calls(event, (tool, arguments))
    await executor.handle(event, ACT)
    return event.tool_exchanges[-1]


def _incident() -> StepEvent:
    return refund_event(roles=("it_operator",))


async def test_listed_tools_join_the_catalog_with_converted_schemas(executor: ToolExecutor) -> None:
    for server in ("ops", "remote"):
        spec = executor.catalog.spec(f"{server}_search_logs")
        schema = spec.json_schema({})
        assert schema["required"] == ["service"], f"{server}: wrong required arguments: {schema}"
        assert schema["properties"]["since_minutes"]["type"] == "integer", f"{server}: {schema}"
        assert (spec.kind, spec.side_effect, spec.safe_to_retry) == ("mcp", False, True), (
            f"{server}: a read-only tool should be a retryable call without side effect: {spec}"
        )


@pytest.mark.parametrize("server", ["ops", "remote"])
async def test_a_call_returns_the_tools_structured_result(
    executor: ToolExecutor, server: str
) -> None:
    exchange = await _call(executor, _incident(), f"{server}_service_health", service="payments")
    assert exchange.ok, f"{server}: call failed: {exchange.error}"
    assert json.loads(exchange.result_json)["status"] == "degraded", f"{server}: {exchange}"


@pytest.mark.parametrize("server", ["ops", "remote"])
async def test_a_tool_error_is_a_failed_exchange(executor: ToolExecutor, server: str) -> None:
    exchange = await _call(executor, _incident(), f"{server}_failing_check", service="search")
    assert (exchange.ok, exchange.error.code) == (False, "TOOL_ERROR"), f"{server}: {exchange}"
    assert "unreachable" in exchange.error.message, f"{server}: reason lost: {exchange.error}"


@pytest.mark.parametrize("server", ["ops", "remote"])
async def test_a_hanging_tool_fails_with_tool_timeout(executor: ToolExecutor, server: str) -> None:
    started = time.monotonic()
    exchange = await _call(executor, _incident(), f"{server}_slow_check", seconds=30)
    elapsed = time.monotonic() - started
    assert exchange.error.code == "TOOL_TIMEOUT", f"{server}: a hang was not a timeout: {exchange}"
    assert elapsed < 4.0, f"{server}: the timeout took {elapsed:.1f} s"


async def test_an_answer_over_the_size_limit_fails_as_too_large(executor: ToolExecutor) -> None:
    exchange = await _call(executor, _incident(), "ops_big_report", kilobytes=512)
    assert exchange.error.code == "TOOL_RESULT_TOO_LARGE", f"oversize answer accepted: {exchange}"


@pytest.mark.parametrize("server", ["ops", "remote"])
async def test_an_answer_that_breaks_the_listed_output_schema_fails_as_invalid(
    executor: ToolExecutor, server: str
) -> None:
    exchange = await _call(executor, _incident(), f"{server}_drifted_health", service="search")
    assert (exchange.ok, exchange.error.code) == (False, "TOOL_RESULT_INVALID"), (
        f"{server}: an answer against its own output schema was accepted: {exchange}"
    )
    message = exchange.error.message
    assert message.startswith(f"{server}_drifted_health"), f"tool not named: {message!r}"
    assert "$.status" in message, f"{server}: the failing field is not named: {message!r}"


async def test_a_server_that_fails_to_start_leaves_other_tools_working(
    executor: ToolExecutor, tmp_path: Path
) -> None:
    assert "broken_search_logs" not in executor.catalog.tools, "a dead server's tools were listed"
    event = _incident()
    event.envelope.principal.roles.append("customer")
    python_call = await _call(executor, event, "lookup_invoice", invoice_id="INV-1001")
    assert python_call.ok, f"a python tool broke with an MCP server down: {python_call.error}"
    mcp_call = await _call(executor, event, "ops_service_health", service="search")
    assert mcp_call.ok, f"a live MCP server's tool broke: {mcp_call.error}"


async def test_a_tool_of_a_server_that_fails_to_start_is_unavailable(tmp_path: Path) -> None:
    listed = {
        "servers": {
            "broken": [
                {
                    "name": "search_logs",
                    "input_schema": {
                        "type": "object",
                        "properties": {"service": {"type": "string"}},
                    },
                    "read_only": True,
                }
            ]
        }
    }
    broken = {
        **SERVER,
        "transport": "stdio",
        "command": sys.executable,
        "args": ["-c", "raise SystemExit(3)"],
        "connect_timeout_s": 2,
    }
    config = write_config(tmp_path / "config", tools={}, mcp_servers={"broken": broken})
    (config / "mcp_tools.yaml").write_text(json.dumps(listed), encoding="utf-8")
    executor = tool_executor(config, tmp_path / "var")
    try:
        await executor.open()
        exchange = await _call(executor, _incident(), "broken_search_logs", service="search")
    finally:
        await executor.close()
    assert (exchange.ok, exchange.error.code) == (False, "TOOL_UNAVAILABLE"), f"{exchange}"
