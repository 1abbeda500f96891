import json
import logging

from opentelemetry.sdk.trace import TracerProvider

from shared.telemetry import JsonFormatter


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("conduit.test", logging.INFO, __file__, 1, message, None, None)


def test_a_log_line_is_one_json_object_with_personal_data_redacted() -> None:
    line = JsonFormatter(service="intent").format(_record("refund for ada@example.com"))
    entry = json.loads(line)
    assert entry["service"] == "intent", entry
    assert "ada@example.com" not in line, f"an email address reached the log: {line}"
    assert "[EMAIL]" in entry["message"], entry


def test_a_log_line_inside_a_span_carries_its_trace_and_span_ids() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("step") as span:
        entry = json.loads(JsonFormatter(service="intent").format(_record("classified")))
        context = span.get_span_context()
    assert entry["trace_id"] == f"{context.trace_id:032x}", entry
    assert entry["span_id"] == f"{context.span_id:016x}", entry
