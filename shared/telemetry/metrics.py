"""Prometheus metrics every service exports (scraped from `/metrics` on the metrics port).

Names follow Prometheus conventions; labels stay low-cardinality (no request ids).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

STEP_SECONDS = Histogram(
    "conduit_step_duration_seconds",
    "Time a service spent on one step, by outcome.",
    ["service", "workflow", "step", "outcome"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
IN_FLIGHT = Gauge("conduit_steps_in_flight", "Step events being handled now.", ["service"])
EVENTS = Counter(
    "conduit_events_total",
    "Step events by what became of them: processed, failed, retried, dead_lettered, duplicate.",
    ["service", "result"],
)
TOKENS = Counter(
    "conduit_tokens_total",
    "Model tokens, by model, tenant and direction.",
    ["model", "tenant", "direction"],
)
COST = Counter("conduit_cost_usd_total", "Model cost in US dollars.", ["model", "tenant"])
TOOL_CALLS = Counter(
    "conduit_tool_calls_total",
    "Tool calls by tool and outcome; replayed ones counted apart.",
    ["tool", "outcome", "replayed"],
)
CONSUMER_LAG = Gauge(
    "conduit_consumer_lag",
    "Records not yet consumed, per partition.",
    ["group", "topic", "partition"],
)


def serve_metrics(port: int, address: str = "0.0.0.0") -> None:
    """Start the `/metrics` endpoint in a background thread."""
    start_http_server(port, addr=address)
