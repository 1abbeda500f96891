"""One trace per request in the real Jaeger, and every service's metrics through its OTLP
receiver: the refund conversation over Kafka with the six services as processes
(scripted stand-in model)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conduit.stack import ServiceProcesses
from conduit.waterfall import Span, spans_from_jaeger
from services.catalog import SERVICE_NAMES
from shared.client import ConduitClient
from shared.config import ConduitSettings
from shared.telemetry import configure_tracing
from shared.testing import JaegerServer
from tests.e2e.conftest import (
    REFUND_MESSAGE,
    STARTUP_TIMEOUT_S,
    describe,
    load_knowledge,
    telemetry_to_jaeger,
)

pytestmark = [pytest.mark.kafka, pytest.mark.jaeger, pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture
def stack_env(jaeger_server: JaegerServer, run_id: str) -> dict[str, str]:
    return {
        **telemetry_to_jaeger(jaeger_server, run_id),
        "CONDUIT_METRICS_EXPORT": "otlp",
        "CONDUIT_METRICS_EXPORT_INTERVAL_S": "1",
    }


@pytest.fixture
def client_tracing(jaeger_server: JaegerServer) -> Iterator[None]:
    settings = ConduitSettings(traces="otlp", otlp_endpoint=jaeger_server.otlp_http_endpoint)
    provider = configure_tracing(settings, "conduit-client")
    yield
    assert provider is not None
    provider.shutdown()
    configure_tracing(ConduitSettings(), "conduit-client")


def _orphans(spans: list[Span]) -> list[str]:
    ids = {s.span_id for s in spans}
    return [s.name for s in spans if s.parent_id and s.parent_id not in ids]


async def _trace_of(jaeger: JaegerServer, request_id: str) -> list[Span]:
    """Poll until spans of all six services, and the parent of every span, have arrived:
    each process exports its spans in batches of its own, so a trace fills in piecemeal."""
    deadline = time.monotonic() + 60
    spans: list[Span] = []
    while time.monotonic() < deadline:
        spans = await asyncio.to_thread(spans_from_jaeger, jaeger.query_url, request_id)
        if set(SERVICE_NAMES) <= {s.service for s in spans} and not _orphans(spans):
            return spans
        await asyncio.sleep(1)
    return spans


async def test_a_request_is_one_trace_across_all_six_services(
    stack: ServiceProcesses,
    client: ConduitClient,
    client_tracing: None,
    jaeger_server: JaegerServer,
    tmp_path: Path,
) -> None:
    await load_knowledge(client, tmp_path)
    response = await client.ask(REFUND_MESSAGE, session_id="jaeger-1", timeout_s=STARTUP_TIMEOUT_S)
    assert response.HasField("answer"), f"no answer: {response}\n{describe(stack)}"

    spans = await _trace_of(jaeger_server, response.envelope.request_id)

    services = {s.service for s in spans}
    assert set(SERVICE_NAMES) <= services, f"services missing from the trace: {services}"
    assert len({s.trace_id for s in spans}) == 1, "the request was split over several traces"
    orphans = _orphans(spans)
    assert not orphans, f"spans whose parent never reached the trace in 60 s: {orphans}"
    chats = [s for s in spans if s.name.startswith("chat ")]
    assert chats, "no model-call spans"
    assert all(int(s.attributes["gen_ai.usage.input_tokens"]) > 0 for s in chats), chats
    tools = sorted(
        str(s.attributes["gen_ai.tool.name"]) for s in spans if "gen_ai.tool.name" in s.attributes
    )
    assert tools == ["check_refund_policy", "issue_refund", "lookup_invoice"], tools


def _processed_by_service(jaeger: JaegerServer, run_id: str) -> dict[str, float]:
    """`conduit_events_total{result="processed"}` per service of this run, received over OTLP."""
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(jaeger.metrics_text()):
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "conduit_events_total"
                and labels.get("result") == "processed"
                and labels.get("conduit_test_run") == run_id
            ):
                service = labels["service_name"]
                totals[service] = totals.get(service, 0.0) + sample.value
    return totals


async def test_every_service_pushes_its_metrics_over_otlp(
    stack: ServiceProcesses,
    client: ConduitClient,
    jaeger_server: JaegerServer,
    run_id: str,
    tmp_path: Path,
) -> None:
    await load_knowledge(client, tmp_path)
    response = await client.ask(REFUND_MESSAGE, session_id="otlp-1", timeout_s=STARTUP_TIMEOUT_S)
    assert response.HasField("answer"), f"no answer: {response}\n{describe(stack)}"

    deadline = time.monotonic() + 30
    processed = await asyncio.to_thread(_processed_by_service, jaeger_server, run_id)
    while not set(SERVICE_NAMES) <= set(processed) and time.monotonic() < deadline:
        await asyncio.sleep(1)
        processed = await asyncio.to_thread(_processed_by_service, jaeger_server, run_id)

    missing = set(SERVICE_NAMES) - set(processed)
    assert not missing, f"no OTLP metrics from {missing}; got {processed}"
    assert all(count >= 1 for count in processed.values()), processed
