"""Telemetry shared by every service: tracing set-up, trace context on the bus."""

from shared.telemetry.files import JsonLinesSpanExporter, span_record
from shared.telemetry.logs import JsonFormatter, configure_logging
from shared.telemetry.propagation import in_trace_context, with_trace_headers
from shared.telemetry.tracing import configure_tracing, tracer
from shared.telemetry.versions import run_attributes, version_attributes

__all__ = [
    "JsonFormatter",
    "JsonLinesSpanExporter",
    "configure_logging",
    "configure_tracing",
    "in_trace_context",
    "run_attributes",
    "span_record",
    "tracer",
    "version_attributes",
    "with_trace_headers",
]
