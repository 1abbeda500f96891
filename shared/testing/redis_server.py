"""A real Redis server (Debian's redis-server) run as a child process on a free loopback port.

The gateway shares its per-tenant limits across replicas through Redis; the tests run the
real server. ``scripts/install-redis.sh`` installs the package when the binary is missing.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import NamedTuple

from shared.testing._process import LocalServer, free_ports, run_install_script

__all__ = ["RedisServer", "RedisStartError", "RedisUnavailableError", "install_redis"]

INSTALL_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "install-redis.sh"
INSTALL_TIMEOUT_S = 600.0
PROBE_TIMEOUT_S = 1.0


class RedisUnavailableError(RuntimeError):
    """No redis-server binary here, and it could not be installed."""


class RedisStartError(RuntimeError):
    """The Redis process ran but did not answer PING; the message has its log tail."""


class _Ports(NamedTuple):
    redis: int


def install_redis(timeout: float = INSTALL_TIMEOUT_S) -> Path:
    """Run ``scripts/install-redis.sh`` (a no-op when installed) and return the binary."""
    return run_install_script(
        INSTALL_SCRIPT, timeout, RedisUnavailableError, explicit_option="binary"
    )


class RedisServer(LocalServer[_Ports]):
    """A throwaway Redis without persistence on a free loopback port. All methods block.

    Example::

        with RedisServer() as redis:
            client = redis.asyncio.from_url(redis.url)
    """

    _display_name = "Redis"
    _log_name = "redis.log"
    _workdir_prefix = "conduit-redis-"
    _start_error = RedisStartError

    def __init__(
        self, binary: Path | None = None, *, start_timeout: float = 15.0, stop_timeout: float = 10.0
    ) -> None:
        super().__init__(start_timeout=start_timeout, stop_timeout=stop_timeout)
        self._binary = binary

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self._require_ports().redis}/0"

    def _locate(self) -> None:
        binary = self._binary or install_redis()
        if not binary.is_file():
            raise RedisUnavailableError(f"no redis-server binary at {binary}")
        self._binary = binary

    def _pick_ports(self) -> _Ports:
        return _Ports(*free_ports(len(_Ports._fields)))

    def _configure(self, workdir: Path) -> None:
        ports = self._require_ports()
        (workdir / "redis.conf").write_text(
            "\n".join(
                [
                    "bind 127.0.0.1",
                    f"port {ports.redis}",
                    f"dir {workdir}",
                    'save ""',
                    "appendonly no",
                    "daemonize no",
                    "protected-mode yes",
                ]
            )
            + "\n"
        )

    def _command(self, workdir: Path) -> list[str]:
        if self._binary is None:
            raise RuntimeError("RedisServer has not located its binary yet")
        return [str(self._binary), str(workdir / "redis.conf")]

    def _is_ready(self, deadline: float) -> bool:
        try:
            with socket.create_connection(
                ("127.0.0.1", self._require_ports().redis), timeout=PROBE_TIMEOUT_S
            ) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False
