"""The gateway process: HTTP (uvicorn) and gRPC (grpc.aio) in one event loop, one bus client.

`/healthz` answers as soon as HTTP is up; `/readyz` (and asking) once the bus is connected
and the response listeners run. SIGTERM or SIGINT stop HTTP first, give gRPC calls in
flight `shutdown_grace_s`, then let go of the bus.
"""

from __future__ import annotations

import asyncio
import logging
import signal

import uvicorn
from redis.asyncio import Redis

from services.gateway.asking import Gateway
from services.gateway.auth import Authenticator, JwtVerifier, load_api_keys
from services.gateway.grpc_api import grpc_server
from services.gateway.http_api import create_app
from services.gateway.limits import Admission, LocalAdmission
from services.gateway.redis_limits import RedisAdmission
from services.gateway.settings import GatewaySettings
from shared.bus import Topics
from shared.config import ConduitSettings
from shared.memory import open_memory
from shared.runtime import make_bus
from shared.runtime.host import stop_when_orphaned
from shared.telemetry import configure_logging, configure_tracing

log = logging.getLogger(__name__)

SERVICE_NAME = "gateway"
LEASE_MARGIN_S = 5.0


def admission_for(settings: GatewaySettings) -> Admission:
    """Limits shared through Redis when it is configured, else counted in this process."""
    if settings.limits_redis_url is None:
        return LocalAdmission()
    return RedisAdmission(
        Redis.from_url(settings.limits_redis_url),
        # A lease outlives the longest ask, then frees the slot of a replica that died.
        lease_s=settings.request_timeout_s + LEASE_MARGIN_S,
        fail_open=settings.limits_fail_open,
    )


def build_gateway(settings: ConduitSettings, gateway_settings: GatewaySettings) -> Gateway:
    """The gateway as configured, not yet connected."""
    secret = gateway_settings.jwt_secret
    public_key = gateway_settings.jwt_public_key_file
    verifier = JwtVerifier(
        audience=gateway_settings.jwt_audience,
        hs256_secret=secret.get_secret_value() if secret else None,
        rs256_public_key=public_key.read_text() if public_key else None,
    )
    keys = load_api_keys(gateway_settings.api_keys_path(settings.config_dir))
    return Gateway(
        make_bus(settings, client_id=SERVICE_NAME),
        Topics(settings.topic_prefix),
        authenticator=Authenticator(keys, verifier),
        history=open_memory(settings),
        settings=gateway_settings,
        admission=admission_for(gateway_settings),
        principal_key=settings.principal_key_bytes(),
        vault_key=settings.pii_vault_key(),
    )


async def serve(settings: ConduitSettings, gateway_settings: GatewaySettings) -> None:
    configure_logging(
        service=SERVICE_NAME, level=settings.log_level, json_format=settings.log_format == "json"
    )
    tracing = configure_tracing(settings, SERVICE_NAME)
    gateway = build_gateway(settings, gateway_settings)
    http = uvicorn.Server(
        uvicorn.Config(
            create_app(gateway),
            host=gateway_settings.host,
            port=gateway_settings.http_port,
            log_config=None,
            access_log=False,
            lifespan="off",
        )
    )
    rpc, grpc_port = grpc_server(gateway, f"{gateway_settings.host}:{gateway_settings.grpc_port}")
    # uvicorn takes SIGTERM/SIGINT while it serves and raises it again once it has stopped:
    # this handler then sees it, as it sees the parent's death.
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await rpc.start()
    serving = asyncio.create_task(http.serve())
    await gateway.start()
    log.info(
        "gateway ready: http on %s:%d, grpc on port %d",
        gateway_settings.host,
        gateway_settings.http_port,
        grpc_port,
    )
    watchdog = (
        asyncio.create_task(stop_when_orphaned(stopping)) if settings.exit_with_parent else None
    )
    await asyncio.wait(
        [serving, asyncio.create_task(stopping.wait())], return_when=asyncio.FIRST_COMPLETED
    )
    log.info("gateway: stopping")
    if watchdog is not None:
        watchdog.cancel()
    http.should_exit = True
    await serving
    await rpc.stop(gateway_settings.shutdown_grace_s)
    await gateway.close()
    if tracing is not None:
        tracing.shutdown()


def main() -> None:
    """Entry point of `python -m services.gateway` and `conduit up gateway`."""
    asyncio.run(serve(ConduitSettings(), GatewaySettings()))
