"""Telemetry shared by every service: tracing set-up, trace context on the bus."""

from shared.telemetry.files import JsonLinesSpanExporter, span_record
from shared.telemetry.logs import JsonFormatter, configure_logging
from shared.telemetry.propagation import in_trace_context, with_trace_headers
from shared.telemetry.tracing import configure_tracing, tracer

__all__ = [
    "JsonFormatter",
    "JsonLinesSpanExporter",
    "configure_logging",
    "configure_tracing",
    "in_trace_context",
    "span_record",
    "tracer",
    "with_trace_headers",
]
