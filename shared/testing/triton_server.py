"""A real Triton Inference Server (CPU, python backend) run as a child process.

Used by the test setup to serve the repository's Triton models. The server is the
``tritonserver`` binary bundled in the ``nvidia-pytriton`` wheel (installed ``--no-deps`` by
``make setup``); only its files are used, the ``pytriton`` package is never imported.

Python models run in Triton's backend stub, which embeds libpython and takes its packages
from the ``python3`` first on ``PATH``. That is the ``triton-stub`` venv ``make setup`` layers
over this one: NumPy 1.x first (the stub cannot handle NumPy 2; see
``requirements/triton-stub.txt``), then everything installed here.
"""

from __future__ import annotations

import importlib.metadata
import os
import secrets
import sys
import sysconfig
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple, cast

from shared.testing._process import LocalServer, free_ports

__all__ = [
    "TritonInstall",
    "TritonServer",
    "TritonStartError",
    "TritonUnavailableError",
    "locate_tritonserver",
]

DISTRIBUTION = "nvidia-pytriton"
STUB_VENV = "triton-stub"
PROBE_TIMEOUT_S = 2.0
HOST = "127.0.0.1"
# The python backend's own files; the stub built for this interpreter's version joins them.
_PYTHON_BACKEND_FILES = ("libtriton_python.so", "triton_python_backend_utils.py")
_STUB = "triton_python_backend_stub"


class TritonUnavailableError(RuntimeError):
    """The bundled ``tritonserver``, its python backend or the stub's venv is missing."""


class TritonStartError(RuntimeError):
    """The server ran but its models did not become ready; the message has its log tail."""


class TritonInstall(NamedTuple):
    """The files a server needs: from the wheel, plus the interpreter its stub runs."""

    binary: Path
    python_backend: Path
    stub: Path
    libs: Path
    stub_python: Path


class _Ports(NamedTuple):
    http: int
    grpc: int
    metrics: int


def locate_tritonserver(
    server_dir: Path | None = None, stub_python: Path | None = None
) -> TritonInstall:
    """Find the server bundled in ``nvidia-pytriton`` (or laid out alike in ``server_dir``)
    and the stub's interpreter (default: this venv's ``triton-stub/bin/python3``).

    Raises ``TritonUnavailableError`` naming what is missing.

    Example::

        locate_tritonserver().binary  # .../site-packages/pytriton/tritonserver/bin/tritonserver
    """
    if server_dir is None:
        try:
            distribution = importlib.metadata.distribution(DISTRIBUTION)
        except importlib.metadata.PackageNotFoundError:
            raise TritonUnavailableError(
                f"{DISTRIBUTION} is not installed (`make setup` installs it)"
            ) from None
        server_dir = Path(str(distribution.locate_file("pytriton/tritonserver")))
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    install = TritonInstall(
        binary=server_dir / "bin" / "tritonserver",
        python_backend=server_dir / "backends" / "python",
        stub=server_dir / "python_backend_stubs" / version / _STUB,
        # auditwheel puts a repaired wheel's vendored libraries beside its package.
        libs=server_dir.parent.parent / "nvidia_pytriton.libs",
        stub_python=stub_python or Path(sys.prefix) / STUB_VENV / "bin" / "python3",
    )
    required = [
        install.binary,
        install.stub,
        *(install.python_backend / name for name in _PYTHON_BACKEND_FILES),
        install.stub_python,
    ]
    missing = [str(path) for path in required if not path.is_file()]
    if missing:
        raise TritonUnavailableError(
            f"Triton files missing for Python {version} (`make setup` installs them): "
            + ", ".join(missing)
        )
    return install


class TritonServer(LocalServer[_Ports]):
    """A throwaway Triton on free loopback ports serving a model repository on the CPU.

    Models load explicitly: the names given, or every folder of the repository with a
    ``config.pbtxt``. Ready means each of them answers ready (the server-wide health check
    says nothing about a model still loading). All methods block.

    Example::

        with TritonServer(MODEL_REPOSITORY, models=["minilm"]) as triton:
            async with InferenceServerClient(triton.grpc_url) as client:
                ...
    """

    _display_name = "Triton"
    _log_name = "tritonserver.log"
    _workdir_prefix = "conduit-triton-"
    _start_error = TritonStartError

    def __init__(
        self,
        model_repository: Path,
        models: Sequence[str] | None = None,
        *,
        server_dir: Path | None = None,
        stub_python: Path | None = None,
        start_timeout: float = 120.0,
        stop_timeout: float = 30.0,
    ) -> None:
        super().__init__(start_timeout=start_timeout, stop_timeout=stop_timeout)
        self._model_repository = model_repository.resolve()
        self._models = tuple(models) if models is not None else None
        self._server_dir = server_dir
        self._stub_python = stub_python
        self._install: TritonInstall | None = None

    @property
    def models(self) -> tuple[str, ...]:
        """The models this server loads."""
        if self._models is None:
            configs = self._model_repository.glob("*/config.pbtxt")
            self._models = tuple(sorted(config.parent.name for config in configs))
        return self._models

    @property
    def grpc_url(self) -> str:
        """``host:port`` of the plaintext gRPC API, as ``tritonclient.grpc`` takes it."""
        return f"{HOST}:{self._require_ports().grpc}"

    @property
    def http_url(self) -> str:
        """Base URL of the HTTP/REST API (KServe v2), e.g. ``<http_url>/v2/models/<name>``."""
        return f"http://{HOST}:{self._require_ports().http}"

    @property
    def metrics_url(self) -> str:
        """Where Prometheus scrapes the server's metrics."""
        return f"http://{HOST}:{self._require_ports().metrics}/metrics"

    def metrics_text(self) -> str:
        """The server's metrics now, in Prometheus' text exposition format."""
        with urllib.request.urlopen(self.metrics_url, timeout=PROBE_TIMEOUT_S) as response:
            return cast(bytes, response.read()).decode()

    def _locate(self) -> None:
        self._install = locate_tritonserver(self._server_dir, self._stub_python)
        if not self._model_repository.is_dir():
            raise TritonUnavailableError(f"no model repository at {self._model_repository}")
        if not self.models:
            raise TritonUnavailableError(f"no */config.pbtxt in {self._model_repository}")

    def _pick_ports(self) -> _Ports:
        return _Ports(*free_ports(len(_Ports._fields)))

    def _configure(self, workdir: Path) -> None:
        # The backend runs the stub found in its own folder, and the wheel ships one stub per
        # Python version beside it: assemble the folder for this interpreter, as PyTriton does.
        install = self._require_install()
        backend = self._backend_directory(workdir) / "python"
        backend.mkdir(parents=True)
        for name in _PYTHON_BACKEND_FILES:
            (backend / name).symlink_to(install.python_backend / name)
        (backend / _STUB).symlink_to(install.stub)

    def _command(self, workdir: Path) -> list[str]:
        install = self._require_install()
        ports = self._require_ports()
        # `env` execs the server, so the base class's SIGTERM reaches Triton itself.
        return [
            "env",
            *(f"{name}={value}" for name, value in self._environment(install).items()),
            str(install.binary),
            f"--model-repository={self._model_repository}",
            f"--backend-directory={self._backend_directory(workdir)}",
            "--model-control-mode=explicit",
            *(f"--load-model={name}" for name in self.models),
            f"--http-address={HOST}",
            f"--http-port={ports.http}",
            f"--grpc-address={HOST}",
            f"--grpc-port={ports.grpc}",
            f"--metrics-address={HOST}",
            f"--metrics-port={ports.metrics}",
            "--allow-gpu-metrics=false",
            # No CUDA here: skip the pinned host memory pool it would try to allocate.
            "--pinned-memory-pool-byte-size=0",
            # Stubs talk to the server through /dev/shm regions: keep parallel servers apart.
            f"--backend-config=python,shm-region-prefix-name=conduit-{secrets.token_hex(4)}-",
            "--log-verbose=0",
        ]

    @staticmethod
    def _environment(install: TritonInstall) -> dict[str, str]:
        # The stub links libpython, which for a pyenv (or any non-system) Python lives in its
        # LIBDIR, off the loader's path; without it the stub would load another build's.
        library_path = [
            str(install.libs),
            str(sysconfig.get_config_var("LIBDIR") or ""),
            os.environ.get("LD_LIBRARY_PATH", ""),
        ]
        search_path = [str(install.stub_python.parent), os.environ.get("PATH", "")]
        return {
            "LD_LIBRARY_PATH": os.pathsep.join(part for part in library_path if part),
            "PATH": os.pathsep.join(part for part in search_path if part),
        }

    def _is_ready(self, deadline: float) -> bool:
        return all(self._model_ready(name) for name in self.models)

    def _model_ready(self, name: str) -> bool:
        try:
            with urllib.request.urlopen(
                f"{self.http_url}/v2/models/{name}/ready", timeout=PROBE_TIMEOUT_S
            ) as response:
                return int(response.status) == 200
        except OSError:
            return False

    def _require_install(self) -> TritonInstall:
        if self._install is None:
            raise RuntimeError("TritonServer has not located its binary yet")
        return self._install

    @staticmethod
    def _backend_directory(workdir: Path) -> Path:
        return workdir / "backends"
