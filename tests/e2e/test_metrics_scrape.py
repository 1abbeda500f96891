"""Prometheus metrics scraped from running service processes over the real Kafka broker
(scripted stand-in model)."""

from __future__ import annotations

import asyncio
import socket
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conduit.stack import ServiceProcesses
from shared.client import ConduitClient
from tests.e2e.conftest import STARTUP_TIMEOUT_S, describe

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.timeout(300)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


PORTS = {"inference": _free_port(), "tool-executor": _free_port()}


@pytest.fixture
def service_env() -> dict[str, dict[str, str]]:
    return {name: {"CONDUIT_METRICS_PORT": str(port)} for name, port in PORTS.items()}


def _scrape(service: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{PORTS[service]}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return sum(
        v
        for (n, ls), v in samples.items()
        if n == name and all(dict(ls).get(k) == want for k, want in labels.items())
    )


async def test_running_services_export_step_token_and_tool_metrics(
    stack: ServiceProcesses, client: ConduitClient
) -> None:
    response = await client.ask(
        "Where is my order ORD-5001?", session_id="metrics-1", timeout_s=STARTUP_TIMEOUT_S
    )
    assert response.HasField("answer"), f"no answer: {response}\n{describe(stack)}"
    await asyncio.sleep(6)  # one round of the lag reporter

    inference = await asyncio.to_thread(_scrape, "inference")
    tools = await asyncio.to_thread(_scrape, "tool-executor")

    processed = _value(inference, "conduit_events_total", service="inference", result="processed")
    assert processed >= 1, f"no processed step counted: {inference}"
    assert _value(inference, "conduit_step_duration_seconds_count", step="answer") >= 1
    assert _value(inference, "conduit_tokens_total", direction="input") > 0, "no tokens counted"
    assert _value(tools, "conduit_tool_calls_total", tool="lookup_order", outcome="ok") == 1
    lags = [v for (name, _), v in tools.items() if name == "conduit_consumer_lag"]
    assert lags, "consumer lag per partition is not exported"
    assert all(lag >= 0 for lag in lags), lags
