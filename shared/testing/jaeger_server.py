"""A real Jaeger v2 all-in-one (in-memory storage) run as a child process.

Used by the test setup to check that spans really arrive over OTLP. Jaeger v2 is an
OpenTelemetry Collector build, so the same process also takes OTLP metrics and exposes them
for Prometheus to scrape, the way a collector in front of Prometheus would. The binary is built
from the Go module proxy by ``scripts/install-jaeger.sh`` and cached per Jaeger version.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, NamedTuple, cast

import yaml

from shared.testing._process import LocalServer, accepts_connections, free_ports, run_install_script

__all__ = ["JaegerServer", "JaegerStartError", "JaegerUnavailableError", "install_jaeger"]

INSTALL_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "install-jaeger.sh"
# A cold build compiles Jaeger and its whole OpenTelemetry Collector from source.
INSTALL_TIMEOUT_S = 1800.0
PROBE_TIMEOUT_S = 2.0
STORE = "memory_store"


class JaegerUnavailableError(RuntimeError):
    """Go or the Jaeger binary is missing, so no Jaeger can be started here."""


class JaegerStartError(RuntimeError):
    """The Jaeger process ran but did not become ready; the message has its log tail."""


class _Ports(NamedTuple):
    otlp_grpc: int
    otlp_http: int
    query_http: int
    query_grpc: int
    prometheus: int


def install_jaeger(timeout: float = INSTALL_TIMEOUT_S) -> Path:
    """Run ``scripts/install-jaeger.sh`` (a no-op when cached) and return the binary."""
    return run_install_script(
        INSTALL_SCRIPT, timeout, JaegerUnavailableError, explicit_option="binary"
    )


class JaegerServer(LocalServer[_Ports]):
    """A throwaway Jaeger with in-memory storage on free loopback ports.

    OTLP comes in over gRPC and HTTP; the query API (``/api/traces``) reads traces back and
    ``metrics_text()`` the OTLP metrics received, in Prometheus' text format. Everything
    lives only as long as the process. All methods block.

    Example::

        with JaegerServer() as jaeger:
            exporter = OTLPSpanExporter(endpoint=f"{jaeger.otlp_http_endpoint}/v1/traces")
            ...
            spans = jaeger.traces("checkout")[0]["spans"]
    """

    _display_name = "Jaeger"
    _log_name = "jaeger.log"
    _workdir_prefix = "conduit-jaeger-"
    _start_error = JaegerStartError

    def __init__(
        self,
        binary: Path | None = None,
        *,
        start_timeout: float = 30.0,
        stop_timeout: float = 10.0,
    ) -> None:
        super().__init__(start_timeout=start_timeout, stop_timeout=stop_timeout)
        self._binary = binary

    @property
    def otlp_http_endpoint(self) -> str:
        """Base URL of the OTLP/HTTP receiver; traces go to ``<endpoint>/v1/traces``."""
        return f"http://127.0.0.1:{self._require_ports().otlp_http}"

    @property
    def otlp_grpc_endpoint(self) -> str:
        """``host:port`` of the OTLP/gRPC receiver (plaintext)."""
        return f"127.0.0.1:{self._require_ports().otlp_grpc}"

    @property
    def query_url(self) -> str:
        """Base URL of the query service's HTTP API, e.g. ``<query_url>/api/traces``."""
        return f"http://127.0.0.1:{self._require_ports().query_http}"

    @property
    def metrics_url(self) -> str:
        """Where the OTLP metrics received are exposed for Prometheus to scrape."""
        return f"http://127.0.0.1:{self._require_ports().prometheus}/metrics"

    def metrics_text(self) -> str:
        """The metrics received over OTLP so far, in Prometheus' text exposition format."""
        with urllib.request.urlopen(self.metrics_url, timeout=PROBE_TIMEOUT_S) as response:
            return cast(bytes, response.read()).decode()

    def services(self) -> list[str]:
        """The names of the services Jaeger holds spans of."""
        return cast(list[str], self._get_json("/api/services").get("data") or [])

    def traces(
        self, service: str, *, limit: int = 20, operation: str | None = None
    ) -> list[dict[str, Any]]:
        """The most recent traces with a span of ``service``, in Jaeger's JSON model."""
        query = {"service": service, "limit": str(limit)}
        if operation is not None:
            query["operation"] = operation
        body = self._get_json(f"/api/traces?{urllib.parse.urlencode(query)}")
        return cast(list[dict[str, Any]], body.get("data") or [])

    def trace(self, trace_id: str) -> dict[str, Any]:
        """One trace by its hex id; ``KeyError`` when Jaeger does not hold it."""
        try:
            body = self._get_json(f"/api/traces/{urllib.parse.quote(trace_id)}")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise KeyError(trace_id) from None
            raise
        found = cast(list[dict[str, Any]], body.get("data") or [])
        if not found:
            raise KeyError(trace_id)
        return found[0]

    def _locate(self) -> None:
        binary = self._binary or install_jaeger()
        if not binary.is_file():
            raise JaegerUnavailableError(f"no Jaeger binary at {binary}")
        self._binary = binary

    def _pick_ports(self) -> _Ports:
        return _Ports(*free_ports(len(_Ports._fields)))

    def _configure(self, workdir: Path) -> None:
        self._config_path(workdir).write_text(yaml.safe_dump(self._config(), sort_keys=False))

    def _config(self) -> dict[str, Any]:
        """The collector config: OTLP in; traces to the memory store behind the query API,
        metrics to a Prometheus endpoint; nothing else listens."""
        ports = self._require_ports()
        return {
            "service": {
                "extensions": ["jaeger_storage", "jaeger_query"],
                "pipelines": {
                    "traces": {"receivers": ["otlp"], "exporters": ["jaeger_storage_exporter"]},
                    "metrics": {"receivers": ["otlp"], "exporters": ["prometheus"]},
                },
                "telemetry": {
                    # The default self-metrics server binds :8888, which parallel runs share.
                    "metrics": {"level": "none"},
                    "logs": {"level": "info"},
                },
            },
            "extensions": {
                "jaeger_storage": {"backends": {STORE: {"memory": {"max_traces": 100_000}}}},
                "jaeger_query": {
                    "storage": {"traces": STORE},
                    # Otherwise the query service traces itself into the store under test.
                    "enable_tracing": False,
                    "http": {"endpoint": f"127.0.0.1:{ports.query_http}"},
                    "grpc": {"endpoint": f"127.0.0.1:{ports.query_grpc}"},
                },
            },
            "receivers": {
                "otlp": {
                    "protocols": {
                        "grpc": {"endpoint": f"127.0.0.1:{ports.otlp_grpc}"},
                        "http": {"endpoint": f"127.0.0.1:{ports.otlp_http}"},
                    }
                }
            },
            "exporters": {
                "jaeger_storage_exporter": {"trace_storage": STORE},
                "prometheus": {
                    "endpoint": f"127.0.0.1:{ports.prometheus}",
                    # service.name etc. as labels, so each service's series stay apart.
                    "resource_to_telemetry_conversion": {"enabled": True},
                },
            },
        }

    def _command(self, workdir: Path) -> list[str]:
        if self._binary is None:
            raise RuntimeError("JaegerServer has not located its binary yet")
        return [str(self._binary), "--config", str(self._config_path(workdir))]

    def _is_ready(self, deadline: float) -> bool:
        # Extensions (the query API) start before the pipelines' receivers: check both.
        ports = self._require_ports()
        receivers = (ports.otlp_grpc, ports.otlp_http)
        if not all(accepts_connections(port, PROBE_TIMEOUT_S) for port in receivers):
            return False
        try:
            self._get_json("/api/services")
        except (OSError, ValueError):
            return False
        return True

    def _get_json(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.query_url}{path}", timeout=PROBE_TIMEOUT_S) as response:
            return cast(dict[str, Any], json.load(response))

    @staticmethod
    def _config_path(workdir: Path) -> Path:
        return workdir / "config.yaml"
