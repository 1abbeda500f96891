"""`conduit trace <request-id>`: one request's spans as a waterfall in the terminal, from
the embedded mode's local trace file or from Jaeger's query API."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BAR_WIDTH = 32


@dataclass(frozen=True)
class Span:
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    service: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6


def spans_from_file(path: Path) -> list[Span]:
    with path.open(encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines if line.strip()]
    return [
        Span(
            r["trace_id"],
            r["span_id"],
            r["parent_id"],
            r["name"],
            str(r["attributes"].get("conduit.service") or r["service"]),
            int(r["start_ns"]),
            int(r["end_ns"]),
            r["attributes"],
        )
        for r in records
    ]


def spans_from_jaeger(
    query_url: str, request_id: str, *, service: str = "guardrail", timeout_s: float = 10.0
) -> list[Span]:
    """Every request passes the guardrail, so its spans find the request's trace."""
    tags = urllib.parse.quote(json.dumps({"conduit.request_id": request_id}))
    url = f"{query_url.rstrip('/')}/api/traces?service={service}&tags={tags}&limit=5"
    with urllib.request.urlopen(url, timeout=timeout_s) as reply:
        data = json.load(reply)["data"]
    spans = []
    for found in data:
        processes = found["processes"]
        for raw in found["spans"]:
            parents = [r["spanID"] for r in raw.get("references", []) if r["refType"] == "CHILD_OF"]
            attributes = {tag["key"]: tag["value"] for tag in raw.get("tags", [])}
            service = (
                attributes.get("conduit.service") or processes[raw["processID"]]["serviceName"]
            )
            start_ns = int(raw["startTime"]) * 1000
            spans.append(
                Span(
                    raw["traceID"],
                    raw["spanID"],
                    parents[0] if parents else "",
                    raw["operationName"],
                    str(service),
                    start_ns,
                    start_ns + int(raw["duration"]) * 1000,
                    attributes,
                )
            )
    return spans


def request_spans(spans: Iterable[Span], request_id: str) -> list[Span]:
    """Every span of the trace(s) that carry `request_id`."""
    spans = list(spans)
    traces = {s.trace_id for s in spans if s.attributes.get("conduit.request_id") == request_id}
    return sorted((s for s in spans if s.trace_id in traces), key=lambda s: s.start_ns)


def render(spans: list[Span], request_id: str) -> str:
    if not spans:
        return f"no spans recorded for request {request_id}"
    start = min(s.start_ns for s in spans)
    total_ms = (max(s.end_ns for s in spans) - start) / 1e6
    depth = _depths(spans)
    service = _services(spans)
    header = (
        f"request {request_id}  trace {spans[0].trace_id}  {total_ms:.1f} ms, {len(spans)} spans"
    )
    columns = f"{'start ms':>9} {'ms':>9}  {'service':<16}{'span':<44}{'tokens':>7}{'cost $':>9}"
    rows = [f"{columns}  timeline"]
    for span in spans:
        offset_ms = (span.start_ns - start) / 1e6
        tokens = _tokens(span)
        name = ("  " * depth[span.span_id] + span.name)[:43]
        rows.append(
            f"{offset_ms:>9.1f} {span.duration_ms:>9.1f}  {service[span.span_id]:<16}{name:<44}"
            f"{tokens:>7}{_cost(span):>9}  {_bar(offset_ms, span.duration_ms, total_ms)}"
            f"{_outcome(span)}"
        )
    return "\n".join([header, *rows])


def _depths(spans: list[Span]) -> dict[str, int]:
    """Steps sit one level under the request's root (each step is the child of the one
    before it, which would indent forever); a step's own model, tool or retrieval calls
    one level under their step."""
    by_id = {s.span_id: s for s in spans}
    depths: dict[str, int] = {}
    for span in spans:
        if span.parent_id not in by_id:
            depths[span.span_id] = 0
        elif "conduit.service" in span.attributes:
            depths[span.span_id] = 1
        else:
            depths[span.span_id] = depths.get(span.parent_id, 1) + 1
    return depths


def _services(spans: list[Span]) -> dict[str, str]:
    """A span without its own `conduit.service` (a model or tool call) belongs to the
    service of its nearest ancestor that has one."""
    by_id = {s.span_id: s for s in spans}
    services = {}
    for span in spans:
        current: Span | None = span
        while current is not None and "conduit.service" not in current.attributes:
            current = by_id.get(current.parent_id)
        services[span.span_id] = (current or span).service[:15]
    return services


def _tokens(span: Span) -> str:
    used = sum(
        int(span.attributes.get(k, 0))
        for k in ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens")
    )
    return str(used) if used else ""


def _cost(span: Span) -> str:
    cost = span.attributes.get("conduit.cost_usd")
    return f"{float(cost):.5f}" if cost is not None else ""


def _outcome(span: Span) -> str:
    error = span.attributes.get("conduit.error_code")
    tool = span.attributes.get("conduit.tool.outcome")
    outcome = span.attributes.get("conduit.outcome")
    label = error or (f"tool {tool}" if tool else outcome)
    return f"  {label}" if label else ""


def _bar(offset_ms: float, duration_ms: float, total_ms: float) -> str:
    scale = BAR_WIDTH / total_ms if total_ms else 0
    lead = int(offset_ms * scale)
    width = max(1, round(duration_ms * scale))
    return (" " * lead + "█" * width).ljust(BAR_WIDTH)[: BAR_WIDTH + 1]
