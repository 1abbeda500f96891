"""The metrics every service records, exported to Prometheus and/or over OTLP.

Instruments come from OpenTelemetry's global meter, so they record nothing until
`configure_metrics` installs this process's provider (once, in `run_service`). One set of
instruments feeds both readers: the Prometheus endpoint (`/metrics` on `metrics_port`) and
the OTLP exporter (`<otlp_endpoint>/v1/metrics`). Attributes stay low-cardinality: no
request or session ids. Prometheus names follow from name and unit, e.g.
`conduit.step.duration` in seconds is scraped as `conduit_step_duration_seconds`.

The Prometheus endpoint also answers the Kubernetes probes (`/healthz`, `/readyz`) when
given a `Health`: the probes and the scrape read the same process on the same port.
"""

from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from opentelemetry import metrics
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from prometheus_client import make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from shared.config import ConduitSettings
from shared.telemetry.health import Health, with_health_endpoints
from shared.telemetry.resource import service_resource

__all__ = [
    "CACHE_LOOKUPS",
    "CONSUMER_LAG",
    "COST",
    "EVENTS",
    "IN_FLIGHT",
    "QUEUE_WAIT",
    "STEP_SECONDS",
    "TOKENS",
    "TOOL_CALLS",
    "configure_metrics",
    "serve_metrics",
]

_meter = metrics.get_meter("conduit")

STEP_SECONDS = _meter.create_histogram(
    "conduit.step.duration",
    unit="s",
    description="Time a service spent on one step; attributes service, workflow, step, outcome.",
    explicit_bucket_boundaries_advisory=(
        0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
    ),
)  # fmt: skip
IN_FLIGHT = _meter.create_up_down_counter(
    "conduit.steps.in_flight", unit="{step}", description="Step events being handled now."
)
EVENTS = _meter.create_counter(
    "conduit.events",
    unit="{event}",
    description="Step events by result: processed, failed, retried, dead_lettered, duplicate.",
)
TOKENS = _meter.create_counter(
    "conduit.tokens", unit="{token}", description="Model tokens by model, tenant and direction."
)
COST = _meter.create_counter(
    "conduit.cost.usd", unit="{USD}", description="Model cost in US dollars by model and tenant."
)
TOOL_CALLS = _meter.create_counter(
    "conduit.tool.calls",
    unit="{call}",
    description="Tool calls by tool and outcome; replayed ones counted apart.",
)
HANDOFFS = _meter.create_counter(
    "conduit.handoffs",
    unit="{request}",
    description="Requests handed to a person, by priority, intent and workflow.",
)
CACHE_LOOKUPS = _meter.create_counter(
    "conduit.cache.lookups", unit="{lookup}", description="Cache lookups by cache and result."
)
# The autoscaling signal that knows LLM work (charts/conduit/README.md): lag counts records,
# whatever they cost, and keeps growing behind one stuck record (its offset holds the commit)
# while the other sessions of the partition flow; the wait of the records that do start
# says how long requests queue. Attributes service and topic.
QUEUE_WAIT = _meter.create_histogram(
    "conduit.queue.wait",
    unit="s",
    description="From a record's production to the start of its handling (Kafka and in-process).",
    explicit_bucket_boundaries_advisory=(
        0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300,
    ),
)  # fmt: skip
CONSUMER_LAG = _meter.create_gauge(
    "conduit.consumer.lag",
    unit="{record}",
    description="Records not yet consumed, by group, topic and partition.",
)


def configure_metrics(
    settings: ConduitSettings, service_name: str, health: Health | None = None
) -> MeterProvider | None:
    """Install this process's meter provider; None (metrics off) when nothing exports.

    With `metrics_port` set, `/metrics` (and, given `health`, `/healthz` and `/readyz`) are
    served from a daemon thread.

    OpenTelemetry allows one global provider per process, so call this once, at start-up.
    Shut the provider down on exit: that pushes the last OTLP export.
    """
    readers: list[MetricReader] = []
    if settings.metrics_port is not None:
        readers.append(PrometheusMetricReader())
    if settings.metrics_export == "otlp":
        exporter = OTLPMetricExporter(endpoint=f"{settings.otlp_endpoint.rstrip('/')}/v1/metrics")
        interval_ms = settings.metrics_export_interval_s * 1000
        readers.append(PeriodicExportingMetricReader(exporter, export_interval_millis=interval_ms))
    if not readers:
        return None
    provider = MeterProvider(metric_readers=readers, resource=service_resource(service_name))
    metrics.set_meter_provider(provider)
    if settings.metrics_port is not None:
        serve_metrics(settings.metrics_address, settings.metrics_port, health)
    return provider


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Probes and scrapes every few seconds would flood the log."""


def serve_metrics(address: str, port: int, health: Health | None = None) -> WSGIServer:
    """Serve the Prometheus exposition (and the probes) on `address:port` from a daemon
    thread; returns the server (`shutdown()` stops it). Port 0 picks a free one
    (`server.server_port`).
    """
    app = make_wsgi_app()
    server = make_server(
        address,
        port,
        app if health is None else with_health_endpoints(health, app),
        ThreadingWSGIServer,
        handler_class=_QuietHandler,
    )
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
