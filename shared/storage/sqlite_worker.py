"""One SQLite connection on one dedicated thread, awaited from the event loop.

Processed-event records, the response cache and the tenant budget ledger each keep a small
SQLite file that other processes may share: WAL lets readers run beside a writer, and the
busy timeout makes a writer wait for another process's transaction instead of failing.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

_T = TypeVar("_T")

BUSY_TIMEOUT_MS = 10_000


class SqliteWorker:
    """Runs functions of the connection on its own thread; the file is opened on first use.

    Example:
        >>> worker = SqliteWorker(Path("var/x.sqlite3"), schema="CREATE TABLE ...", name="x")
        >>> rows = await worker.run(lambda db: db.execute("SELECT 1").fetchall())  # doctest: +SKIP
        >>> await worker.close()  # doctest: +SKIP
    """

    def __init__(self, path: Path, *, schema: str, name: str) -> None:
        self._path = path
        self._schema = schema
        # SQLite connections belong to one thread: every call goes through this one.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._db: sqlite3.Connection | None = None

    async def run(self, function: Callable[[sqlite3.Connection], _T]) -> _T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: function(self._connection()))

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=True)

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            db.row_factory = sqlite3.Row
            # Set before anything else, so that even switching to WAL waits for other writers.
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            _while_locked(lambda: db.execute("PRAGMA journal_mode = WAL"))
            _while_locked(lambda: db.executescript(self._schema))
            self._db = db
        return self._db

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def _while_locked(statement: Callable[[], object]) -> None:
    """Run `statement`, retrying while another process holds the lock.

    The busy timeout does not cover every case: when two connections open the same new
    file at once, switching it to WAL can fail at once with "database is locked".
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            statement()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
        else:
            return
