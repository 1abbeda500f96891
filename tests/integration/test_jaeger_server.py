"""The real Jaeger behind the ``jaeger_server`` fixture: OTLP spans in, query API out; OTLP
metrics in, Prometheus exposition out."""

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Tracer, format_trace_id
from prometheus_client.parser import text_string_to_metric_families

from shared.testing import JaegerServer

pytestmark = pytest.mark.jaeger

ARRIVAL_TIMEOUT_S = 15.0


@pytest.fixture
def service_name() -> str:
    """A service name no other test exports under, so queries see only this test's spans."""
    return f"conduit-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def tracer(jaeger_server: JaegerServer, service_name: str) -> Iterator[Tracer]:
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    exporter = OTLPSpanExporter(endpoint=f"{jaeger_server.otlp_http_endpoint}/v1/traces")
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        yield provider.get_tracer("conduit.tests")
    finally:
        provider.shutdown()


def _wait_for_spans(jaeger: JaegerServer, service: str, count: int) -> list[dict[str, Any]]:
    """The spans of the single trace of `service`, once all `count` have arrived."""
    deadline = time.monotonic() + ARRIVAL_TIMEOUT_S
    spans: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        traces = jaeger.traces(service)
        spans = [span for trace in traces for span in trace["spans"]]
        if len(spans) >= count:
            return spans
        time.sleep(0.2)
    raise AssertionError(f"{count} spans of {service!r} not in Jaeger after 15 s; got {spans}")


def _tags(span: dict[str, Any]) -> dict[str, Any]:
    return {tag["key"]: tag["value"] for tag in span["tags"]}


def test_an_exported_span_arrives_with_its_attributes(
    jaeger_server: JaegerServer, tracer: Tracer, service_name: str
) -> None:
    with tracer.start_as_current_span(
        "retrieve", attributes={"conduit.request_id": "req-1", "conduit.retrieval.hits": 3}
    ):
        pass

    [span] = _wait_for_spans(jaeger_server, service_name, 1)

    assert span["operationName"] == "retrieve", f"span name lost on the way: {span}"
    tags = _tags(span)
    assert tags.get("conduit.request_id") == "req-1", f"string attribute lost: {tags}"
    assert tags.get("conduit.retrieval.hits") == 3, f"integer attribute lost: {tags}"


def test_a_child_span_keeps_its_parent_link(
    jaeger_server: JaegerServer, tracer: Tracer, service_name: str
) -> None:
    with (
        tracer.start_as_current_span("conduit ask") as parent,
        tracer.start_as_current_span("inference"),
    ):
        pass
    trace_id = format_trace_id(parent.get_span_context().trace_id)

    spans = {
        span["operationName"]: span for span in _wait_for_spans(jaeger_server, service_name, 2)
    }

    assert set(spans) == {"conduit ask", "inference"}, f"unexpected spans: {list(spans)}"
    child_refs = spans["inference"]["references"]
    assert child_refs == [
        {"refType": "CHILD_OF", "traceID": trace_id, "spanID": spans["conduit ask"]["spanID"]}
    ], f"child span lost its parent link: {child_refs}"
    assert jaeger_server.trace(trace_id)["traceID"] == trace_id, "trace not found by its id"


def test_an_unknown_trace_id_is_a_key_error(jaeger_server: JaegerServer) -> None:
    with pytest.raises(KeyError):
        jaeger_server.trace(uuid.uuid4().hex)


def _exported_samples(jaeger: JaegerServer, name: str, service: str) -> list[float]:
    """Values of series `name` of `service` in Jaeger's Prometheus exposition, once present."""
    deadline = time.monotonic() + ARRIVAL_TIMEOUT_S
    while time.monotonic() < deadline:
        values = [
            sample.value
            for family in text_string_to_metric_families(jaeger.metrics_text())
            for sample in family.samples
            if sample.name == name and sample.labels.get("service_name") == service
        ]
        if values:
            return values
        time.sleep(0.2)
    raise AssertionError(f"{name} of {service!r} not exposed by Jaeger after 15 s")


def test_otlp_metrics_are_exposed_for_prometheus(
    jaeger_server: JaegerServer, service_name: str
) -> None:
    exporter = OTLPMetricExporter(endpoint=f"{jaeger_server.otlp_http_endpoint}/v1/metrics")
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=60_000)
    provider = MeterProvider(
        metric_readers=[reader], resource=Resource.create({"service.name": service_name})
    )
    try:
        counter = provider.get_meter("conduit.tests").create_counter("conduit.events")
        counter.add(3, {"result": "processed"})
        assert provider.force_flush(), "the OTLP metrics export failed"
    finally:
        provider.shutdown()

    values = _exported_samples(jaeger_server, "conduit_events_total", service_name)

    assert values == [3.0], f"the counter arrived with the wrong value: {values}"
