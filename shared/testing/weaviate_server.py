"""A real single-node Weaviate run as a child process.

Used by the test setup to check retrieval against the real vector database. The binary is
built from the Go module proxy by ``scripts/install-weaviate.sh`` and cached per version.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import NamedTuple

from shared.testing._process import LocalServer, accepts_connections, free_ports, run_install_script

__all__ = ["WeaviateServer", "WeaviateStartError", "WeaviateUnavailableError", "install_weaviate"]

INSTALL_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "install-weaviate.sh"
# A cold build compiles Weaviate with its cloud-storage SDKs from source.
INSTALL_TIMEOUT_S = 1800.0
PROBE_TIMEOUT_S = 2.0
NODE_NAME = "conduit-test-node"
HOST = "127.0.0.1"


class WeaviateUnavailableError(RuntimeError):
    """Go or the Weaviate binary is missing, so no Weaviate can be started here."""


class WeaviateStartError(RuntimeError):
    """The Weaviate process ran but did not become ready; the message has its log tail."""


class _Ports(NamedTuple):
    http: int
    grpc: int
    gossip: int
    cluster_data: int
    raft: int
    raft_rpc: int


def install_weaviate(timeout: float = INSTALL_TIMEOUT_S) -> Path:
    """Run ``scripts/install-weaviate.sh`` (a no-op when cached) and return the binary."""
    return run_install_script(
        INSTALL_SCRIPT, timeout, WeaviateUnavailableError, explicit_option="binary"
    )


class WeaviateServer(LocalServer[_Ports]):
    """A throwaway single-node Weaviate with anonymous access and no vectorizer modules.

    Objects must bring their own vectors. Data lives in the work dir, so a ``stop()`` and
    ``start()`` keep it; ``close()`` deletes it. All methods block.

    Example::

        with WeaviateServer() as server:
            client = weaviate.connect_to_custom(
                http_host="127.0.0.1", http_port=server.http_port, http_secure=False,
                grpc_host="127.0.0.1", grpc_port=server.grpc_port, grpc_secure=False,
            )
            ...
    """

    _display_name = "Weaviate"
    _log_name = "weaviate.log"
    _workdir_prefix = "conduit-weaviate-"
    _start_error = WeaviateStartError

    def __init__(
        self,
        binary: Path | None = None,
        *,
        start_timeout: float = 60.0,
        stop_timeout: float = 15.0,
    ) -> None:
        super().__init__(start_timeout=start_timeout, stop_timeout=stop_timeout)
        self._binary = binary

    @property
    def http_port(self) -> int:
        """Port of the REST (and GraphQL) API."""
        return self._require_ports().http

    @property
    def grpc_port(self) -> int:
        """Port of the plaintext gRPC API the Python client queries through."""
        return self._require_ports().grpc

    @property
    def url(self) -> str:
        """Base URL of the REST API, e.g. ``<url>/v1/schema``."""
        return f"http://{HOST}:{self.http_port}"

    def _locate(self) -> None:
        binary = self._binary or install_weaviate()
        if not binary.is_file():
            raise WeaviateUnavailableError(f"no Weaviate binary at {binary}")
        self._binary = binary

    def _pick_ports(self) -> _Ports:
        return _Ports(*free_ports(len(_Ports._fields)))

    def _configure(self, workdir: Path) -> None:
        self._data_path(workdir).mkdir()

    def _environment(self, workdir: Path) -> dict[str, str]:
        """Weaviate reads its settings from the environment only."""
        ports = self._require_ports()
        return {
            "AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED": "true",
            "DEFAULT_VECTORIZER_MODULE": "none",
            "ENABLE_MODULES": "",
            "DISABLE_TELEMETRY": "true",
            "PERSISTENCE_DATA_PATH": str(self._data_path(workdir)),
            "GRPC_PORT": str(ports.grpc),
            # Memberlist, Raft and its RPC server bind here; gRPC and the cluster data API
            # always bind every interface, on their free-picked ports.
            "CLUSTER_BIND_ADDR": HOST,
            "CLUSTER_HOSTNAME": NODE_NAME,
            "CLUSTER_GOSSIP_BIND_PORT": str(ports.gossip),
            "CLUSTER_DATA_BIND_PORT": str(ports.cluster_data),
            "RAFT_PORT": str(ports.raft),
            "RAFT_INTERNAL_RPC_PORT": str(ports.raft_rpc),
            "RAFT_JOIN": NODE_NAME,
            "RAFT_BOOTSTRAP_EXPECT": "1",
            # The default 5x stretches the first leader election to ~5 s; no network here.
            "RAFT_TIMEOUTS_MULTIPLIER": "1",
            # Otherwise pprof listens on the fixed :6060, which parallel runs would share.
            "GO_PROFILING_DISABLE": "true",
            "PROMETHEUS_MONITORING_ENABLED": "false",
            # 1.35's default BlockMax WAND keyword search drops recently written documents
            # from multi-term BM25 results (tests/integration/test_vector_stores.py shows
            # it); the classic inverted index ranks them right. Deployments need it too.
            "USE_INVERTED_SEARCHABLE": "false",
            "LOG_LEVEL": "info",
        }

    def _command(self, workdir: Path) -> list[str]:
        if self._binary is None:
            raise RuntimeError("WeaviateServer has not located its binary yet")
        # `env` execs the server, so the base class's SIGTERM reaches Weaviate itself.
        settings = [f"{name}={value}" for name, value in self._environment(workdir).items()]
        return [
            "env",
            *settings,
            str(self._binary),
            "--host",
            HOST,
            "--port",
            str(self.http_port),
            "--scheme",
            "http",
        ]

    def _is_ready(self, deadline: float) -> bool:
        # The client queries over gRPC, a listener apart from REST: check both.
        if not accepts_connections(self.grpc_port, PROBE_TIMEOUT_S):
            return False
        try:
            with urllib.request.urlopen(
                f"{self.url}/v1/.well-known/ready", timeout=PROBE_TIMEOUT_S
            ) as response:
                return 200 <= int(response.status) < 300
        except OSError:
            return False

    @staticmethod
    def _data_path(workdir: Path) -> Path:
        return workdir / "data"
