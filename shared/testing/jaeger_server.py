"""A real Jaeger v2 all-in-one (in-memory storage) run as a child process.

Used by the test setup to check that spans really arrive over OTLP. The binary is built
from the Go module proxy by ``scripts/install-jaeger.sh`` and cached per Jaeger version.
"""

from __future__ import annotations

import atexit
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, Any, NamedTuple, Self, cast

import yaml

__all__ = ["JaegerServer", "JaegerStartError", "JaegerUnavailableError", "install_jaeger"]

INSTALL_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "install-jaeger.sh"
# A cold build compiles Jaeger and its whole OpenTelemetry Collector from source.
INSTALL_TIMEOUT_S = 1800.0
PROBE_TIMEOUT_S = 2.0
LOG_TAIL_LINES = 40
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


def install_jaeger(timeout: float = INSTALL_TIMEOUT_S) -> Path:
    """Run ``scripts/install-jaeger.sh`` (a no-op when cached) and return the binary."""
    if not INSTALL_SCRIPT.is_file():
        raise JaegerUnavailableError(f"{INSTALL_SCRIPT} not found; pass binary explicitly")
    try:
        result = subprocess.run(
            ["bash", str(INSTALL_SCRIPT)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise JaegerUnavailableError(f"{INSTALL_SCRIPT} took longer than {timeout}s") from exc
    if result.returncode != 0:
        raise JaegerUnavailableError(
            f"{INSTALL_SCRIPT} failed (exit {result.returncode}):\n{result.stderr[-4000:]}"
        )
    return Path(result.stdout.strip().splitlines()[-1])


class JaegerServer:
    """A throwaway Jaeger with in-memory storage on free loopback ports.

    OTLP comes in over gRPC and HTTP; the query API (``/api/traces``) reads it back.
    Traces live only as long as the process. All methods block.

    Example::

        with JaegerServer() as jaeger:
            exporter = OTLPSpanExporter(endpoint=f"{jaeger.otlp_http_endpoint}/v1/traces")
            ...
            spans = jaeger.traces("checkout")[0]["spans"]
    """

    def __init__(
        self,
        binary: Path | None = None,
        *,
        start_timeout: float = 30.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self._binary = binary
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._workdir: Path | None = None
        self._ports: _Ports | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

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
    def running(self) -> bool:
        """Whether the Jaeger process is alive (it may still be starting)."""
        return self._process is not None and self._process.poll() is None

    @property
    def log_path(self) -> Path:
        """Jaeger's combined stdout/stderr log."""
        return self._require_workdir() / "jaeger.log"

    def start(self) -> None:
        """Start Jaeger and block until the query API and both OTLP receivers answer."""
        if self.running:
            return
        if self._workdir is None:
            self._prepare()
        self._forget_process()
        self._launch()
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Shut Jaeger down (SIGTERM), falling back to SIGKILL on timeout; traces are lost."""
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(self._stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(self._stop_timeout)
        self._forget_process()

    def close(self) -> None:
        """Stop Jaeger and delete its config and log."""
        self.stop()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
            atexit.unregister(self.close)

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

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _prepare(self) -> None:
        """Locate the binary, pick ports and write the config: once per instance."""
        binary = self._binary or install_jaeger()
        if not binary.is_file():
            raise JaegerUnavailableError(f"no Jaeger binary at {binary}")
        self._binary = binary
        workdir = Path(tempfile.mkdtemp(prefix="conduit-jaeger-"))
        try:
            self._ports = _Ports(*_free_ports(len(_Ports._fields)))
            self._config_path(workdir).write_text(yaml.safe_dump(self._config(), sort_keys=False))
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            self._ports = None
            raise
        self._workdir = workdir
        # An interrupted test run must not leave a Jaeger process behind.
        atexit.register(self.close)

    def _config(self) -> dict[str, Any]:
        """The collector config: OTLP in, memory store, query API; nothing else listens."""
        ports = self._require_ports()
        return {
            "service": {
                "extensions": ["jaeger_storage", "jaeger_query"],
                "pipelines": {
                    "traces": {"receivers": ["otlp"], "exporters": ["jaeger_storage_exporter"]}
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
            "exporters": {"jaeger_storage_exporter": {"trace_storage": STORE}},
        }

    def _launch(self) -> None:
        workdir = self._require_workdir()
        if self._binary is None:
            raise RuntimeError("JaegerServer has not located its binary yet")
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [str(self._binary), "--config", str(self._config_path(workdir))],
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                code = None if self._process is None else self._process.returncode
                raise JaegerStartError(f"Jaeger exited with {code}:\n{self._log_tail()}")
            if self._is_ready():
                return
            time.sleep(0.2)
        raise JaegerStartError(
            f"Jaeger not ready within {self._start_timeout}s:\n{self._log_tail()}"
        )

    def _is_ready(self) -> bool:
        # Extensions (the query API) start before the pipelines' receivers: check both.
        ports = self._require_ports()
        if not all(_accepts_connections(port) for port in (ports.otlp_grpc, ports.otlp_http)):
            return False
        try:
            self._get_json("/api/services")
        except (OSError, ValueError):
            return False
        return True

    def _get_json(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.query_url}{path}", timeout=PROBE_TIMEOUT_S) as response:
            return cast(dict[str, Any], json.load(response))

    def _forget_process(self) -> None:
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def _log_tail(self) -> str:
        if self._workdir is None or not self.log_path.exists():
            return "(no Jaeger log)"
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-LOG_TAIL_LINES:]) or "(empty Jaeger log)"

    def _require_workdir(self) -> Path:
        if self._workdir is None:
            raise RuntimeError("JaegerServer has not been started")
        return self._workdir

    def _require_ports(self) -> _Ports:
        if self._ports is None:
            raise RuntimeError("JaegerServer has not been started")
        return self._ports

    @staticmethod
    def _config_path(workdir: Path) -> Path:
        return workdir / "config.yaml"


def _free_ports(count: int) -> list[int]:
    """Distinct free loopback ports, all held open together so none is handed out twice."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _accepts_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=PROBE_TIMEOUT_S).close()
    except OSError:
        return False
    return True
