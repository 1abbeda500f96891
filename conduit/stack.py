"""The local stack: each service its own OS process against a real Kafka broker.

Used by `conduit up all` and by the end-to-end and chaos tests, which kill and restart
single services while requests are in flight.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from services.catalog import SERVICE_NAMES, module_for
from shared.config import repo_root


class ServiceProcesses:
    """Example:

    >>> stack = ServiceProcesses(bootstrap="127.0.0.1:9092", data_dir=Path("var/stack"))
    >>> stack.start_all()  # doctest: +SKIP
    >>> stack.kill("tool-executor"); stack.start("tool-executor")  # doctest: +SKIP
    >>> stack.start("intent", replica=2)  # a second consumer in the group  # doctest: +SKIP
    'intent#2'
    >>> stack.stop("intent#2")  # doctest: +SKIP

    Processes are addressed by key: the service name for its first replica,
    `name#N` for replica N.
    """

    def __init__(
        self,
        *,
        bootstrap: str,
        data_dir: Path,
        env: Mapping[str, str] | None = None,
        services: Sequence[str] = SERVICE_NAMES,
        log_dir: Path | None = None,
        service_env: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        """`service_env` adds variables for one service only, e.g. its metrics port."""
        self._services = list(services)
        self._service_env = {name: dict(extra) for name, extra in (service_env or {}).items()}
        self._log_dir = log_dir or data_dir / "logs"
        self._env = {
            **os.environ,
            "CONDUIT_BUS": "kafka",
            "CONDUIT_KAFKA_BOOTSTRAP": bootstrap,
            "CONDUIT_DATA_DIR": str(data_dir),
            "PYTHONUNBUFFERED": "1",
            # A killed test run or `conduit up` must not leave services consuming behind it.
            "CONDUIT_EXIT_WITH_PARENT": "true",
            **(env or {}),
        }
        self._processes: dict[str, subprocess.Popen[bytes]] = {}

    def start_all(self) -> None:
        for name in self._services:
            self.start(name)

    def start(self, name: str, replica: int = 1, env: Mapping[str, str] | None = None) -> str:
        """Start replica `replica` of service `name`; returns the key that addresses it.

        `env` adds variables for this process only (a replica in another role, say).
        """
        key = process_key(name, replica)
        if key in self._processes:
            raise RuntimeError(f"{key} is already started")
        self._log_dir.mkdir(parents=True, exist_ok=True)
        with (self._log_dir / f"{key}.log").open("ab") as log:
            self._processes[key] = subprocess.Popen(
                [sys.executable, "-m", module_for(name)],
                cwd=repo_root(),
                env={**self._env, **self._service_env.get(name, {}), **(env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return key

    def kill(self, name: str) -> None:
        """SIGKILL: no draining, no commits — what a crashed pod looks like."""
        process = self._processes.pop(name)
        process.kill()
        process.wait(timeout=10)

    def stop(self, name: str, timeout_s: float = 15.0) -> None:
        process = self._processes.pop(name)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def stop_all(self) -> None:
        for name in list(self._processes):
            self.stop(name)

    def alive(self) -> dict[str, bool]:
        return {name: p.poll() is None for name, p in self._processes.items()}

    def pid(self, name: str) -> int:
        return self._processes[name].pid

    def log(self, name: str) -> str:
        path = self._log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def process_key(name: str, replica: int = 1) -> str:
    """`intent` for the first replica of intent, `intent#2` for the second."""
    if replica < 1:
        raise ValueError(f"replica numbers start at 1, got {replica}")
    return name if replica == 1 else f"{name}#{replica}"
