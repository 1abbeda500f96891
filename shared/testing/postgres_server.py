"""A real PostgreSQL server (Debian's postgresql) run as a child process on a free loopback port.

The memory stores are tested against it. ``scripts/install-postgres.sh`` finds the server
binaries, installing the package when they are missing. PostgreSQL refuses to run as
root, and CI runs as root: then ``initdb`` and ``postgres`` run as an unprivileged user
(``postgres`` where the package created it, else ``nobody``) through ``setpriv``, which
execs, so signals reach the postmaster itself.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
from pathlib import Path
from typing import NamedTuple

import psycopg

from shared.testing._process import LocalServer, free_ports, run_install_script

__all__ = ["PostgresServer", "PostgresStartError", "PostgresUnavailableError", "install_postgres"]

INSTALL_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "install-postgres.sh"
INSTALL_TIMEOUT_S = 600.0
INITDB_TIMEOUT_S = 120.0
PROBE_TIMEOUT_S = 1
UNPRIVILEGED_USERS = ("postgres", "nobody")


class PostgresUnavailableError(RuntimeError):
    """No PostgreSQL server binaries here, and they could not be installed."""


class PostgresStartError(RuntimeError):
    """initdb failed, or the server ran but took no connection; the message says which."""


class _Ports(NamedTuple):
    postgres: int


def install_postgres(timeout: float = INSTALL_TIMEOUT_S) -> Path:
    """Run ``scripts/install-postgres.sh`` (a no-op when installed); the binaries' directory."""
    return run_install_script(
        INSTALL_SCRIPT, timeout, PostgresUnavailableError, explicit_option="bindir"
    )


class PostgresServer(LocalServer[_Ports]):
    """A throwaway cluster (trust authentication, loopback only) with one database.

    Example::

        with PostgresServer() as postgres:
            connection = psycopg.connect(postgres.url)
    """

    _display_name = "PostgreSQL"
    _log_name = "postgres.log"
    _workdir_prefix = "conduit-postgres-"
    _start_error = PostgresStartError

    user = "conduit"
    database = "conduit"

    def __init__(
        self, bindir: Path | None = None, *, start_timeout: float = 30.0, stop_timeout: float = 15.0
    ) -> None:
        super().__init__(start_timeout=start_timeout, stop_timeout=stop_timeout)
        self._bindir = bindir
        self._database_created = False

    @property
    def url(self) -> str:
        port = self._require_ports().postgres
        return f"postgresql://{self.user}@127.0.0.1:{port}/{self.database}"

    def stop(self) -> None:
        # SIGTERM is a "smart" shutdown that waits for every client to leave; SIGINT is
        # the "fast" one (clients are disconnected), as a pod's shutdown should be.
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):  # then SIGTERM, SIGKILL
                process.wait(self._stop_timeout)
        super().stop()

    def _locate(self) -> None:
        bindir = self._bindir or install_postgres()
        for binary in ("initdb", "postgres"):
            if not (bindir / binary).is_file():
                raise PostgresUnavailableError(f"no {binary} in {bindir}")
        self._bindir = bindir

    def _pick_ports(self) -> _Ports:
        return _Ports(*free_ports(len(_Ports._fields)))

    def _configure(self, workdir: Path) -> None:
        owner = _unprivileged_owner()
        if owner is not None:
            os.chown(workdir, owner.pw_uid, owner.pw_gid)
        command = [
            *_as_owner(owner),
            str(self._binary("initdb")),
            f"--pgdata={workdir / 'data'}",
            f"--username={self.user}",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        ]
        result = subprocess.run(
            command,
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=INITDB_TIMEOUT_S,
            check=False,
        )
        if result.returncode != 0:
            raise PostgresStartError(
                f"initdb failed (exit {result.returncode}):\n{result.stderr[-4000:]}"
            )

    def _command(self, workdir: Path) -> list[str]:
        return [
            *_as_owner(_unprivileged_owner()),
            str(self._binary("postgres")),
            "-D",
            str(workdir / "data"),
            "-p",
            str(self._require_ports().postgres),
            "-k",
            str(workdir),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "max_connections=200",
        ]

    def _is_ready(self, deadline: float) -> bool:
        port = self._require_ports().postgres
        admin = f"postgresql://{self.user}@127.0.0.1:{port}/postgres"
        try:
            with psycopg.connect(admin, connect_timeout=PROBE_TIMEOUT_S, autocommit=True) as db:
                if not self._database_created:
                    exists = db.execute(
                        "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
                    ).fetchone()
                    if exists is None:
                        db.execute(f'CREATE DATABASE "{self.database}"')
                    self._database_created = True
        except psycopg.OperationalError:
            return False
        return True

    def _binary(self, name: str) -> Path:
        if self._bindir is None:
            raise RuntimeError("PostgresServer has not located its binaries yet")
        return self._bindir / name


def _unprivileged_owner() -> pwd.struct_passwd | None:
    """The user to run PostgreSQL as when this process is root; None when it is not."""
    if os.geteuid() != 0:
        return None
    for name in UNPRIVILEGED_USERS:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresUnavailableError(
        f"running as root and none of the users {UNPRIVILEGED_USERS} exists to run PostgreSQL"
    )


def _as_owner(owner: pwd.struct_passwd | None) -> list[str]:
    if owner is None:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise PostgresUnavailableError("running as root, and setpriv (util-linux) is missing")
    return [
        setpriv,
        f"--reuid={owner.pw_uid}",
        f"--regid={owner.pw_gid}",
        "--init-groups",
        "--",
    ]
