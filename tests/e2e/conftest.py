"""The six-process stack over the real Kafka broker, for the end-to-end tests.

The model is the deterministic scripted stand-in (`CONDUIT_INFERENCE_BACKEND=scripted`).
A test module sets Kafka transactions on by overriding the `transactional` fixture.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc  # type: ignore[import-untyped]
import httpx
import pytest
import yaml

from conduit.gateway_process import start_gateway
from conduit.stack import ServiceProcesses
from services.gateway.auth import api_key_digest
from services.retrieval.indexed import wait_until_indexed
from services.retrieval.knowledge import document_events_from_dir
from services.retrieval.stores import EmbeddedStore, VectorStore
from shared.bus import BusMessage, Topics
from shared.bus.kafka import KafkaBus
from shared.client import ConduitClient
from shared.config import repo_root
from shared.contracts import Response, StepEvent
from shared.contracts.rpc import GatewayStub
from shared.testing import JaegerServer, KafkaServer

REFUND_MESSAGE = "I was charged twice for invoice INV-1001, please refund me"
# Every service checks principals against it; the test client signs with it, as the
# gateway does.
PRINCIPAL_KEY = "e2e-principal-key"
STARTUP_TIMEOUT_S = 120.0


@pytest.fixture
def transactional() -> bool:
    return False


@pytest.fixture
def stack_env() -> dict[str, str]:
    """Variables for every service; a test module overrides it (tracing, say)."""
    return {}


@pytest.fixture
def service_env() -> dict[str, dict[str, str]]:
    """Variables for single services; a test module overrides it (metrics ports, say)."""
    return {}


@pytest.fixture
def run_id() -> str:
    """Marks this test's telemetry apart from other stacks' in the shared Jaeger."""
    return uuid.uuid4().hex[:12]


def telemetry_to_jaeger(jaeger: JaegerServer, run_id: str) -> dict[str, str]:
    """Variables that send every process's spans to `jaeger`, marked with `run_id`."""
    return {
        # OpenTelemetry's standard variable: added to every service's resource.
        "OTEL_RESOURCE_ATTRIBUTES": f"conduit.test_run={run_id}",
        "CONDUIT_TRACES": "otlp",
        "CONDUIT_OTLP_ENDPOINT": jaeger.otlp_http_endpoint,
    }


@pytest.fixture
def topics() -> Topics:
    return Topics(f"e2e{int(time.time() * 1000)}")


@pytest.fixture
def stack(
    kafka_server: KafkaServer,
    tmp_path: Path,
    topics: Topics,
    transactional: bool,
    service_env: dict[str, dict[str, str]],
    stack_env: dict[str, str],
) -> Iterator[ServiceProcesses]:
    processes = ServiceProcesses(
        bootstrap=kafka_server.bootstrap_servers,
        data_dir=tmp_path,
        env={
            "CONDUIT_INFERENCE_BACKEND": "scripted",
            "CONDUIT_TOPIC_PREFIX": topics.prefix,
            "CONDUIT_KAFKA_TRANSACTIONS": str(transactional).lower(),
            "CONDUIT_PRINCIPAL_KEY": PRINCIPAL_KEY,
            **stack_env,
        },
        service_env=service_env,
    )
    processes.start_all()
    try:
        yield processes
    finally:
        processes.stop_all()


@pytest.fixture
async def client(
    kafka_server: KafkaServer, topics: Topics, transactional: bool
) -> AsyncIterator[ConduitClient]:
    bus = KafkaBus(
        kafka_server.bootstrap_servers, client_id="e2e-client", transactional=transactional
    )
    conduit = ConduitClient(bus, topics, principal_key=PRINCIPAL_KEY.encode())
    await bus.start()
    try:
        await conduit.start()
        yield conduit
    finally:
        await conduit.close()
        await bus.stop()


async def load_knowledge(
    client: ConduitClient, data_dir: Path, store: VectorStore | None = None
) -> None:
    """Publish the shipped knowledge base; return once `store` (by default the embedded
    store under `data_dir`) serves all of it."""
    documents = document_events_from_dir(repo_root() / "config" / "knowledge", "default")
    for document in documents:
        await client.publish_document(document)
    await wait_until_indexed(
        store or EmbeddedStore(data_dir / "retrieval"), documents, STARTUP_TIMEOUT_S
    )


def payments_for(data_dir: Path, invoice_id: str) -> list[tuple[str, int]]:
    with sqlite3.connect(data_dir / "tool-executor" / "business.sqlite3") as db:
        return db.execute(
            "SELECT idempotency_key, amount_cents FROM payments WHERE invoice_id = ?",
            (invoice_id,),
        ).fetchall()


def describe(stack: ServiceProcesses) -> str:
    return "\n".join(f"--- {name}\n{stack.log(name)[-3000:]}" for name in stack.alive())


@asynccontextmanager
async def step_events_to(
    kafka_server: KafkaServer, topics: Topics, service: str
) -> AsyncIterator[list[StepEvent]]:
    """Every step event published to `service` while the block runs, read off the topic."""
    seen: list[StepEvent] = []

    async def keep(message: BusMessage) -> None:
        seen.append(StepEvent.FromString(message.value))

    bus = KafkaBus(kafka_server.bootstrap_servers, client_id=f"e2e-tap-{service}")
    await bus.start()
    listener = await bus.listen(topics.step(service), keep)
    try:
        yield seen
    finally:
        await listener.close()
        await bus.stop()


# The gateway process in front of the stack, for the gateway tests.
DEMO_KEY = "demo-key-default-customer"
SUPERVISOR_KEY = "e2e-supervisor-key"  # may approve refunds that need a supervisor
TIGHT_KEY = "e2e-tight-key"  # one ask per 100 s
DISABLED_KEY = "e2e-disabled-key"
FUZZ_KEY = "e2e-fuzz-key"  # limits high enough that a fuzzer's asks reach the pipeline
JWT_SECRET = "e2e secret for the gateway's HS256 tokens"
MAX_BODY_BYTES = 16 * 1024


@dataclass(frozen=True)
class GatewayProcess:
    http: httpx.AsyncClient
    grpc: Any  # GatewayStub over a grpc.aio channel

    @staticmethod
    def auth(key: str = DEMO_KEY) -> dict[str, str]:
        return {"authorization": f"Bearer {key}"}

    @staticmethod
    def grpc_auth(key: str = DEMO_KEY) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {key}"),)


def write_key_file(path: Path) -> Path:
    def entry(name: str, key: str, **extra: Any) -> dict[str, Any]:
        return {"name": name, "sha256": api_key_digest(key), "tenant": "default", **extra}

    keys = [
        entry("demo", DEMO_KEY, roles=["customer"], user_id="demo-user"),
        entry(
            "tight",
            TIGHT_KEY,
            roles=["customer"],
            limits={"rate_per_s": 0.01, "burst": 1, "max_in_flight": 4},
        ),
        entry("supervisor", SUPERVISOR_KEY, roles=["supervisor"], user_id="sam"),
        entry("disabled", DISABLED_KEY, roles=["customer"], disabled=True),
        entry(
            "fuzz",
            FUZZ_KEY,
            roles=["customer"],
            limits={"rate_per_s": 1000, "burst": 1000, "max_in_flight": 64},
        ),
    ]
    path.write_text(yaml.safe_dump({"keys": keys}))
    return path


@pytest.fixture
async def gateway(
    stack: ServiceProcesses, client: ConduitClient, tmp_path: Path
) -> AsyncIterator[GatewayProcess]:
    await load_knowledge(client, tmp_path)
    address = await start_gateway(
        stack,
        env={
            "CONDUIT_GATEWAY_API_KEYS_FILE": str(write_key_file(tmp_path / "api_keys.yaml")),
            "CONDUIT_GATEWAY_JWT_SECRET": JWT_SECRET,
            "CONDUIT_GATEWAY_MAX_BODY_BYTES": str(MAX_BODY_BYTES),
            "CONDUIT_GATEWAY_REQUEST_TIMEOUT_S": str(STARTUP_TIMEOUT_S),
        },
        timeout_s=STARTUP_TIMEOUT_S,
    )
    async with (
        httpx.AsyncClient(base_url=address.http_url, timeout=STARTUP_TIMEOUT_S + 10) as http,
        grpc.aio.insecure_channel(address.grpc_target) as channel,
    ):
        yield GatewayProcess(http=http, grpc=GatewayStub(channel))


@pytest.fixture
async def responses_seen(
    kafka_server: KafkaServer, topics: Topics
) -> AsyncIterator[list[Response]]:
    """Every response on the responses topic from now on, the later ones of a request too
    (after a pending approval or a handoff)."""
    bus = KafkaBus(kafka_server.bootstrap_servers, client_id="e2e-responses")
    await bus.start()
    seen: list[Response] = []

    async def keep(message: BusMessage) -> None:
        seen.append(Response.FromString(message.value))

    listener = await bus.listen(topics.responses, keep)
    try:
        yield seen
    finally:
        await listener.close()
        await bus.stop()


async def later_response(
    seen: list[Response], request_id: str, *, after: str, timeout_s: float = 90.0
) -> Response:
    """The first response of `request_id` in `seen` whose outcome is not `after`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for response in seen:
            if response.envelope.request_id == request_id and not response.HasField(after):
                return response
        await asyncio.sleep(0.2)
    raise AssertionError(f"no response of {request_id} after its {after} within {timeout_s} s")
