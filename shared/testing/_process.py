"""What every locally run server here shares: install script, free ports, process lifecycle."""

from __future__ import annotations

import atexit
import shutil
import socket
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import IO, ClassVar, Generic, Self, TypeVar

__all__ = ["LocalServer", "accepts_connections", "free_ports", "run_install_script"]

PortsT = TypeVar("PortsT", bound=tuple[int, ...])

LOG_TAIL_LINES = 40


def run_install_script(
    script: Path, timeout: float, error_type: type[Exception], *, explicit_option: str
) -> Path:
    """Run an install script (a no-op when cached) and return the path it prints last.

    Every way it can fail raises ``error_type``; ``explicit_option`` names the constructor
    argument that bypasses the script.
    """
    if not script.is_file():
        raise error_type(f"{script} not found; pass {explicit_option} explicitly")
    try:
        result = subprocess.run(
            ["bash", str(script)], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise error_type(f"{script} took longer than {timeout}s") from exc
    if result.returncode != 0:
        raise error_type(f"{script} failed (exit {result.returncode}):\n{result.stderr[-4000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports, all held open together so none is handed out twice."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def accepts_connections(port: int, timeout: float) -> bool:
    """Whether something listens on the loopback ``port`` right now."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=timeout).close()
    except OSError:
        return False
    return True


class LocalServer(ABC, Generic[PortsT]):
    """A child process with its own temporary work dir and loopback ports.

    The first ``start()`` locates the software, picks the ports and writes the config into a
    fresh work dir; later starts reuse all three. ``close()`` stops the process and deletes
    the work dir. Subclasses fill in the hooks below.

    Example::

        class EchoServer(LocalServer[tuple[int]]):
            _display_name = "echo"
            ...

        with EchoServer(start_timeout=5.0, stop_timeout=5.0) as echo:
            ...
    """

    _display_name: ClassVar[str]
    """How messages name the process, e.g. ``"Kafka broker"``."""
    _log_name: ClassVar[str]
    _workdir_prefix: ClassVar[str]
    _start_error: ClassVar[type[Exception]]

    def __init__(self, *, start_timeout: float, stop_timeout: float) -> None:
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._workdir: Path | None = None
        self._ports: PortsT | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def running(self) -> bool:
        """Whether the process is alive (it may still be starting)."""
        return self._process is not None and self._process.poll() is None

    @property
    def log_path(self) -> Path:
        """The process's combined stdout/stderr log, kept across restarts."""
        return self._require_workdir() / self._log_name

    def start(self) -> None:
        """Start the process and block until it is ready."""
        if self.running:
            return
        if self._workdir is None:
            self._prepare()
        self._forget_process()  # a process that died on its own still holds its log file
        self._launch()
        try:
            self._wait_until_ready()
        except BaseException:
            self.kill()
            raise

    def stop(self) -> None:
        """Shut the process down cleanly (SIGTERM), falling back to SIGKILL on timeout."""
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(self._stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(self._stop_timeout)
        self._forget_process()

    def kill(self) -> None:
        """Kill the process with SIGKILL, as a crash would; the work dir stays."""
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(self._stop_timeout)
        self._forget_process()

    def close(self) -> None:
        """Stop the process and delete its work dir."""
        self.stop()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
            atexit.unregister(self.close)

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

    @abstractmethod
    def _locate(self) -> None:
        """Find (or install) the software; raise the unavailable error when impossible."""

    @abstractmethod
    def _pick_ports(self) -> PortsT:
        """Free loopback ports for every listener, kept for the instance's lifetime."""

    @abstractmethod
    def _configure(self, workdir: Path) -> None:
        """Write the config (and whatever else a first start needs) into ``workdir``."""

    @abstractmethod
    def _command(self, workdir: Path) -> list[str]:
        """The command line that runs the server in the foreground."""

    @abstractmethod
    def _is_ready(self, deadline: float) -> bool:
        """One readiness probe; it should give up by the monotonic ``deadline``."""

    def _prepare(self) -> None:
        self._locate()
        workdir = Path(tempfile.mkdtemp(prefix=self._workdir_prefix))
        try:
            self._ports = self._pick_ports()
            self._configure(workdir)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            self._ports = None
            raise
        self._workdir = workdir
        # An interrupted test run or CLI must not leave a process and its data behind.
        atexit.register(self.close)

    def _launch(self) -> None:
        workdir = self._require_workdir()
        command = self._command(workdir)
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            command,
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
                raise self._start_error(
                    f"{self._display_name} exited with {code}:\n{self._log_tail()}"
                )
            if self._is_ready(deadline):
                return
            time.sleep(0.2)
        raise self._start_error(
            f"{self._display_name} not ready within {self._start_timeout}s:\n{self._log_tail()}"
        )

    def _forget_process(self) -> None:
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def _log_tail(self) -> str:
        if self._workdir is None or not self.log_path.exists():
            return f"(no {self._display_name} log)"
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-LOG_TAIL_LINES:]) or f"(empty {self._display_name} log)"

    def _require_workdir(self) -> Path:
        if self._workdir is None:
            raise RuntimeError(f"{type(self).__name__} has not been started")
        return self._workdir

    def _require_ports(self) -> PortsT:
        if self._ports is None:
            raise RuntimeError(f"{type(self).__name__} has not been started")
        return self._ports
