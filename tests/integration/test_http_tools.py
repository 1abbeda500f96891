"""`http` tools against the IT-ops example API (examples/itops), a real uvicorn process."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.tool_executor.service import ToolExecutor
from shared.contracts import StepEvent, ToolExchange
from shared.runtime import StepCall
from tests.fixtures.audit import audit_trail
from tests.fixtures.itops import API_TOKEN, ItopsProcess, tool_executor, write_config
from tests.fixtures.tool_events import refund_event, request_calls

ACT = StepCall(workflow="incident", step_id="act")
AUTH = {"scheme": "bearer", "secret_env": "ITOPS_TEST_TOKEN"}


def _tool(operation: str, *, spec: str = "itops", **settings: Any) -> dict[str, Any]:
    return {
        "description": f"{operation} of the IT-ops API",
        "kind": "http",
        "openapi": {
            "spec": f"openapi/{spec}.yaml",
            "operation": operation,
            "base_url_env": "ITOPS_TEST_URL",
        },
        "auth": AUTH,
        "side_effect": False,
        "safe_to_retry": True,
        "roles": ["it_operator"],
        **settings,
    }


TOOLS = {
    "search_logs": _tool("searchLogs"),
    "service_health": _tool("serviceHealth"),
    "open_incident_ticket": _tool(
        "createTicket",
        side_effect=True,
        requires=[{"tool": "search_logs", "same": ["service"]}],
    ),
    "echo": _tool("echo", spec="faults"),
    "hang": _tool("hang", spec="faults", timeout_s=0.5),
    "status": _tool("status", spec="faults"),
    "flaky_safe": _tool("flaky", spec="faults"),
    "flaky_unsafe": _tool("flaky", spec="faults", safe_to_retry=False),
    "big": _tool("big", spec="faults", max_result_bytes=2000),
    "text": _tool("text", spec="faults"),
    "health": _tool("health", spec="faults"),
}


@pytest.fixture(scope="module")
def api() -> Iterator[ItopsProcess]:
    with ItopsProcess("examples.itops.http_api") as server:
        yield server


@pytest.fixture
async def executor(
    api: ItopsProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[ToolExecutor]:
    monkeypatch.setenv("ITOPS_TEST_URL", api.url)
    monkeypatch.setenv("ITOPS_TEST_TOKEN", API_TOKEN)
    config = write_config(tmp_path / "config", tools=TOOLS, mcp_servers={})
    executor = tool_executor(config, tmp_path / "var")
    yield executor
    await executor.close()


async def _call(
    executor: ToolExecutor, event: StepEvent, tool: str, **arguments: Any
) -> ToolExchange:
    """One agent round (a new step, so a new idempotency key): the model asks, it runs."""
    event.envelope.workflow.steps_taken += 1
    request_calls(event, (tool, arguments))
    await executor.handle(event, ACT)
    return event.tool_exchanges[-1]


def _incident() -> StepEvent:
    return refund_event(roles=("it_operator",))


def _result(exchange: ToolExchange) -> dict[str, Any]:
    assert exchange.ok, f"{exchange.call.tool} failed: {exchange.error}"
    result: dict[str, Any] = json.loads(exchange.result_json)
    return result


async def _get(api: ItopsProcess, path: str) -> Any:
    """What the API answers at `path`, asked directly (not through a tool)."""
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    async with httpx.AsyncClient(base_url=api.url, headers=headers) as client:
        return (await client.get(path)).json()


async def test_query_parameters_reach_the_api_and_the_json_answer_is_the_result(
    executor: ToolExecutor,
) -> None:
    exchange = await _call(
        executor, _incident(), "search_logs", service="payments", since_minutes=10
    )
    entries = _result(exchange)["entries"]
    assert [entry["level"] for entry in entries] == ["ERROR", "ERROR"], (
        f"the 10-minute window of payments' logs was not what the API returned: {entries}"
    )


async def test_a_path_parameter_is_placed_in_the_path(executor: ToolExecutor) -> None:
    exchange = await _call(executor, _incident(), "service_health", service="checkout")
    assert _result(exchange)["service"] == "checkout", f"wrong service's health: {exchange}"


async def test_body_properties_make_the_json_body_of_a_post(executor: ToolExecutor) -> None:
    event = _incident()
    await _call(executor, event, "search_logs", service="payments")
    exchange = await _call(
        executor,
        event,
        "open_incident_ticket",
        service="payments",
        title="pool exhausted",
        severity="sev2",
    )
    ticket = _result(exchange)
    assert (ticket["service"], ticket["title"], ticket["severity"]) == (
        "payments",
        "pool exhausted",
        "sev2",
    ), f"the ticket does not carry the call's body: {ticket}"


async def test_the_bearer_secret_is_sent_but_never_logged_or_recorded(
    executor: ToolExecutor, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    exchange = await _call(executor, _incident(), "echo", key="auth")
    assert "authorization" in _result(exchange)["headers"], "no Authorization header was sent"
    recorded = exchange.SerializeToString().decode(errors="replace")
    ledger = (tmp_path / "var" / "ledger.sqlite3").read_bytes().decode(errors="replace")
    for where, text in (
        ("the exchange", recorded),
        ("the log", caplog.text),
        ("the ledger", ledger),
    ):
        assert API_TOKEN not in text, f"the API secret leaked into {where}"


async def test_a_missing_secret_fails_the_call_naming_the_variable_only(
    executor: ToolExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ITOPS_TEST_TOKEN")
    exchange = await _call(executor, _incident(), "echo", key="no-secret")
    assert (exchange.ok, exchange.error.code) == (False, "TOOL_UNAVAILABLE"), f"{exchange.error}"
    assert "ITOPS_TEST_TOKEN" in exchange.error.message, f"variable not named: {exchange.error}"


@pytest.mark.parametrize("status", [404, 422, 500])
async def test_an_error_status_is_a_failed_exchange_with_its_http_code(
    executor: ToolExecutor, status: int
) -> None:
    exchange = await _call(executor, _incident(), "status", code=status)
    assert (exchange.ok, exchange.error.code) == (False, f"HTTP_{status}"), (
        f"HTTP {status} was not reported as HTTP_{status}: {exchange}"
    )


async def test_a_hanging_endpoint_fails_with_tool_timeout_within_the_bound(
    executor: ToolExecutor,
) -> None:
    started = time.monotonic()
    exchange = await _call(executor, _incident(), "hang", seconds=30)
    elapsed = time.monotonic() - started
    assert exchange.error.code == "TOOL_TIMEOUT", f"a hang was not a timeout: {exchange}"
    # Three attempts of 0.5 s and at most 1.5 s of backoff.
    assert elapsed < 4.0, f"the timeout took {elapsed:.1f} s"


async def test_an_answer_over_the_size_limit_fails_as_too_large(executor: ToolExecutor) -> None:
    exchange = await _call(executor, _incident(), "big", kilobytes=64)
    assert exchange.error.code == "TOOL_RESULT_TOO_LARGE", f"oversize answer accepted: {exchange}"


async def test_an_answer_that_is_not_json_fails_as_invalid(executor: ToolExecutor) -> None:
    exchange = await _call(executor, _incident(), "text")
    assert exchange.error.code == "TOOL_RESULT_INVALID", f"HTML accepted as a result: {exchange}"


async def test_a_tool_safe_to_retry_is_retried_after_transient_failures(
    executor: ToolExecutor, api: ItopsProcess
) -> None:
    exchange = await _call(executor, _incident(), "flaky_safe", key="safe", failures=2)
    assert exchange.ok, f"two 503s then a 200 did not succeed: {exchange.error}"
    hits = await _get(api, "/faults/hits")
    assert hits["flaky:safe"] == 3, f"expected 3 attempts: {hits}"


async def test_a_tool_not_safe_to_retry_is_called_once(
    executor: ToolExecutor, api: ItopsProcess
) -> None:
    exchange = await _call(executor, _incident(), "flaky_unsafe", key="unsafe", failures=1)
    assert exchange.error.code == "HTTP_503", f"the 503 was not reported: {exchange}"
    hits = await _get(api, "/faults/hits")
    assert hits["flaky:unsafe"] == 1, f"an unsafe tool was retried: {hits}"


async def test_a_redelivered_ticket_call_replays_and_opens_one_ticket(
    executor: ToolExecutor, api: ItopsProcess
) -> None:
    event = _incident()
    await _call(executor, event, "search_logs", service="search")
    event.envelope.workflow.steps_taken += 1
    request_calls(
        event, ("open_incident_ticket", {"service": "search", "title": "slow", "severity": "sev3"})
    )
    first, second = StepEvent(), StepEvent()
    first.CopyFrom(event)
    second.CopyFrom(event)
    await executor.handle(first, ACT)
    await executor.handle(second, ACT)
    replay = second.tool_exchanges[-1]
    assert (first.tool_exchanges[-1].replayed, replay.replayed) == (False, True), "not replayed"
    assert replay.result_json == first.tool_exchanges[-1].result_json, "the replay differs"
    tickets = await _get(api, "/tickets")
    titles = [t["title"] for t in tickets["tickets"] if t["service"] == "search"]
    assert titles == ["slow"], f"expected exactly one ticket for search: {titles}"


# --- answers checked against the operation's response schema ---------------------------------


@pytest.mark.parametrize("answer", ["valid", "null_count"])
async def test_an_answer_that_matches_the_response_schema_is_the_result(
    executor: ToolExecutor, answer: str
) -> None:
    exchange = await _call(executor, _incident(), "health", answer=answer)
    assert _result(exchange)["service"] == "payments", f"{answer}: {exchange}"


@pytest.mark.parametrize(
    ("answer", "path"),
    [
        ("wrong_type", "$.errors_15m: expected type"),
        ("missing_field", "$: missing required ['status']"),
        ("nested", "$.recent[1].level: expected type 'string'"),
    ],
)
async def test_an_answer_that_breaks_the_response_schema_fails_naming_tool_and_path(
    executor: ToolExecutor, answer: str, path: str
) -> None:
    exchange = await _call(executor, _incident(), "health", answer=answer)
    assert (exchange.ok, exchange.error.code) == (False, "TOOL_RESULT_INVALID"), (
        f"a malformed answer ({answer}) was not refused as invalid: {exchange}"
    )
    message = exchange.error.message
    assert message.startswith("health:"), f"the message does not name the tool: {message!r}"
    assert path in message, f"the message does not say {path!r}: {message!r}"


async def test_a_schema_failure_message_carries_no_value_of_the_answer(
    executor: ToolExecutor,
) -> None:
    exchange = await _call(executor, _incident(), "health", answer="wrong_type")
    assert exchange.error.code == "TOOL_RESULT_INVALID", f"not refused: {exchange}"
    message = exchange.error.message
    assert "jane" not in message, f"the answer's personal data leaked: {message!r}"
    assert "example.com" not in message, f"the answer's personal data leaked: {message!r}"


async def test_an_answer_in_an_undeclared_media_type_fails_as_invalid(
    executor: ToolExecutor,
) -> None:
    exchange = await _call(executor, _incident(), "health", answer="text")
    assert exchange.error.code == "TOOL_RESULT_INVALID", f"text/plain accepted: {exchange}"
    assert "text/plain" in exchange.error.message, f"media type not named: {exchange.error}"


async def test_a_malformed_answer_is_not_retried_even_for_a_tool_safe_to_retry(
    executor: ToolExecutor, api: ItopsProcess
) -> None:
    exchange = await _call(executor, _incident(), "health", answer="missing_field", key="once")
    assert exchange.error.code == "TOOL_RESULT_INVALID", f"not refused: {exchange}"
    hits = await _get(api, "/faults/hits")
    assert hits["health:once"] == 1, f"a malformed answer was asked for again: {hits}"


async def test_a_malformed_answer_is_audited_as_a_failed_call(executor: ToolExecutor) -> None:
    event = _incident()
    event.envelope.workflow.steps_taken += 1
    request_calls(event, ("health", {"answer": "nested"}))
    async with audit_trail() as trail:
        await executor.handle(event, trail.audited(event, ACT, service="tool-executor"))
        [record] = await trail.records()
    assert (record.kind, record.subject, record.outcome) == (
        "tool_call",
        "health",
        "TOOL_RESULT_INVALID",
    ), f"the failed call was audited wrongly: {record}"
    assert "$.recent[1].level" in record.detail, f"the reason is not on the trail: {record}"
