"""Liveness and readiness of a service process, served next to `/metrics` for Kubernetes.

`/healthz` answers 200 while the event loop keeps ticking: a loop blocked (by a stuck
C call, say) for longer than `stall_s` fails it, so the kubelet restarts the pod; a plain
"the HTTP thread answers" check would pass forever. `/readyz` answers 200 once the bus is
connected and the service subscribed, and 503 again while it drains on SIGTERM. Both share
the port (and thread) of the Prometheus endpoint, which keeps working when the loop is
stuck, so a probe and a scrape read the same process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["Health", "with_health_endpoints"]

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Health:
    """What the probes report. Example:

    >>> health = Health(stall_s=30)
    >>> beat = asyncio.create_task(health.heartbeat())  # doctest: +SKIP
    >>> health.mark_ready()  # once subscribed
    >>> health.live, health.ready
    (True, True)
    """

    def __init__(
        self, *, stall_s: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._stall_s = stall_s
        self._clock = clock
        self._last_beat = clock()
        self._ready = False

    @property
    def live(self) -> bool:
        return self._clock() - self._last_beat < self._stall_s

    @property
    def ready(self) -> bool:
        return self._ready and self.live

    def mark_ready(self) -> None:
        self._ready = True

    def mark_not_ready(self) -> None:
        self._ready = False

    def beat(self) -> None:
        self._last_beat = self._clock()

    async def heartbeat(self, every_s: float = 1.0) -> None:
        """Run on the service's event loop until cancelled."""
        while True:
            self.beat()
            await asyncio.sleep(every_s)


def with_health_endpoints(health: Health, app: WsgiApp) -> WsgiApp:
    """`app` (the Prometheus exposition) plus `/healthz` and `/readyz`."""

    def answer(ok: bool, start_response: Callable[..., Any]) -> list[bytes]:
        status = "200 OK" if ok else "503 Service Unavailable"
        body = b"ok\n" if ok else b"unavailable\n"
        start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    def dispatch(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return answer(health.live, start_response)
        if path == "/readyz":
            return answer(health.ready, start_response)
        return app(environ, start_response)

    return dispatch
