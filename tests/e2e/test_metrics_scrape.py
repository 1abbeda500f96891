"""Prometheus metrics scraped from running service processes over the real Kafka broker
(scripted stand-in model)."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conduit.stack import ServiceProcesses
from services.catalog import SERVICE_NAMES
from shared.client import ConduitClient
from shared.config import repo_root
from shared.testing._process import free_ports
from tests.e2e.conftest import STARTUP_TIMEOUT_S, describe

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.timeout(300)]


PORTS = dict(zip(SERVICE_NAMES, free_ports(len(SERVICE_NAMES)), strict=True))
DASHBOARD = repo_root() / "charts" / "dashboards" / "conduit.json"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def service_env() -> dict[str, dict[str, str]]:
    return {
        name: {"CONDUIT_METRICS_PORT": str(port), "CONDUIT_METRICS_ADDRESS": "127.0.0.1"}
        for name, port in PORTS.items()
    }


def _scrape(service: str) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{PORTS[service]}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
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

    scraped = {name: await asyncio.to_thread(_scrape, name) for name in SERVICE_NAMES}
    inference, tools = scraped["inference"], scraped["tool-executor"]

    processed = _value(inference, "conduit_events_total", service="inference", result="processed")
    assert processed >= 1, f"no processed step counted: {inference}"
    assert _value(inference, "conduit_step_duration_seconds_count", step="answer") >= 1
    assert _value(inference, "conduit_tokens_total", direction="input") > 0, "no tokens counted"
    assert _value(tools, "conduit_tool_calls_total", tool="lookup_order", outcome="ok") == 1
    lags = [v for (name, _), v in tools.items() if name == "conduit_consumer_lag"]
    assert lags, "consumer lag per partition is not exported"
    assert all(lag >= 0 for lag in lags), lags
    lookups = _value(scraped["intent"], "conduit_cache_lookups_total", cache="embedding")
    assert lookups >= 1, "embedding cache lookups are not counted"
    exported = {name for samples in scraped.values() for name, _ in samples}
    assert exported >= _dashboard_metrics(), (
        f"the dashboard reads metrics no service exports: {_dashboard_metrics() - exported}"
    )


def _dashboard_metrics() -> set[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bconduit_[a-z_]+", target["expr"])
    }
