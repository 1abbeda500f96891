"""A gateway process beside the local stack, on free loopback ports, started and ready.

Used by the end-to-end tests and `make bench-gateway`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from conduit.stack import ServiceProcesses
from services.catalog import GATEWAY
from shared.testing._process import free_ports

_POLL_S = 0.2


@dataclass(frozen=True)
class GatewayAddress:
    http_url: str  # http://127.0.0.1:<port>
    grpc_target: str  # 127.0.0.1:<port>


async def start_gateway(
    processes: ServiceProcesses, *, env: Mapping[str, str], timeout_s: float
) -> GatewayAddress:
    """Start the gateway among `processes` (with `env` added) and return once its `/readyz`
    answers 200; `RuntimeError` with its log when it exits or is not ready in time.

    >>> address = await start_gateway(stack, env={}, timeout_s=60)  # doctest: +SKIP
    """
    http_port, grpc_port = free_ports(2)
    processes.start(
        GATEWAY,
        env={
            "CONDUIT_GATEWAY_HOST": "127.0.0.1",
            "CONDUIT_GATEWAY_HTTP_PORT": str(http_port),
            "CONDUIT_GATEWAY_GRPC_PORT": str(grpc_port),
            **env,
        },
    )
    address = GatewayAddress(f"http://127.0.0.1:{http_port}", f"127.0.0.1:{grpc_port}")
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=address.http_url, timeout=_POLL_S * 10) as http:
        while time.monotonic() < deadline:
            if not processes.alive()[GATEWAY]:
                raise RuntimeError(f"the gateway exited:\n{processes.log(GATEWAY)[-3000:]}")
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return address
            except httpx.TransportError:
                pass  # not listening yet
            await asyncio.sleep(_POLL_S)
    raise RuntimeError(f"the gateway was not ready in {timeout_s} s:\n{processes.log(GATEWAY)}")
