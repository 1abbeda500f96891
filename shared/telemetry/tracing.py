"""Tracer set-up from settings: OTLP to a collector (Jaeger), a local JSON-lines file
(embedded mode), or nothing."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from shared.config import ConduitSettings
from shared.telemetry.files import JsonLinesSpanExporter
from shared.telemetry.resource import service_resource

TRACER_NAME = "conduit"

# The provider of this process. Held here rather than installed as OpenTelemetry's global,
# which can be set only once: an embedded run, a test or a demo may configure it again.
_provider: TracerProvider | None = None


def tracer() -> trace.Tracer:
    if _provider is not None:
        return _provider.get_tracer(TRACER_NAME)
    return trace.get_tracer(TRACER_NAME)


def configure_tracing(settings: ConduitSettings, service_name: str) -> TracerProvider | None:
    """Make a tracer provider this process's; None (and tracing off) when not configured."""
    global _provider  # noqa: PLW0603 - one provider per process, replaced on reconfiguration
    exporter = _exporter(settings)
    if exporter is None:
        _provider = None
        return None
    provider = TracerProvider(
        resource=service_resource(service_name),
        sampler=ParentBased(TraceIdRatioBased(settings.trace_sample_ratio)),
    )
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=500))
    _provider = provider
    return provider


def _exporter(settings: ConduitSettings) -> SpanExporter | None:
    if settings.traces == "otlp":
        return OTLPSpanExporter(endpoint=f"{settings.otlp_endpoint.rstrip('/')}/v1/traces")
    if settings.traces == "file":
        return JsonLinesSpanExporter(settings.trace_file or settings.data_dir / "traces.jsonl")
    return None
