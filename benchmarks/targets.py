"""The deployments under test, each yielding a client with the knowledge base indexed.

All use the deterministic scripted stand-in model, so figures are orchestration, the
real MiniLM embedding, retrieval and SQLite tool work, with zero model latency. The
"-traced" variants are the same deployments with telemetry on, to measure what it costs:
embedded writes its local trace file; Kafka exports traces and metrics over OTLP to a real
Jaeger started here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from conduit.embedded import EmbeddedConduit
from conduit.stack import ServiceProcesses
from services.catalog import SERVICE_NAMES
from services.retrieval.indexed import wait_until_indexed
from services.retrieval.knowledge import document_events_from_dir
from services.retrieval.stores import EmbeddedStore
from shared.bus import Topics
from shared.bus.kafka import KafkaBus
from shared.client import ConduitClient
from shared.config import ConduitSettings
from shared.testing import JaegerServer, KafkaServer

SCRIPTED_MODEL_ENV = {"CONDUIT_INFERENCE_BACKEND": "scripted"}
TENANT = "default"

Target = Callable[[Path, float], AbstractAsyncContextManager[ConduitClient]]


def fresh_prefix() -> str:
    """A topic prefix no earlier run used, so no stale records are replayed."""
    return f"bench{time.time_ns()}"


def embedded(
    data_dir: Path, startup_timeout_s: float
) -> AbstractAsyncContextManager[ConduitClient]:
    """All six services in this process over the in-memory bus.

    The inference service reads its backend from the environment when built: the caller
    sets `SCRIPTED_MODEL_ENV` in `os.environ` first.
    """
    return _embedded(
        ConduitSettings(data_dir=data_dir, topic_prefix=fresh_prefix()), startup_timeout_s
    )


def embedded_traced(
    data_dir: Path, startup_timeout_s: float
) -> AbstractAsyncContextManager[ConduitClient]:
    """The same, writing every span to the local trace file as `conduit demo` does."""
    settings = ConduitSettings(data_dir=data_dir, topic_prefix=fresh_prefix(), traces="file")
    return _embedded(settings, startup_timeout_s)


@asynccontextmanager
async def _embedded(
    settings: ConduitSettings, startup_timeout_s: float
) -> AsyncIterator[ConduitClient]:
    async with EmbeddedConduit(settings) as conduit:
        await asyncio.wait_for(
            conduit.load_knowledge(settings.config_dir / "knowledge", TENANT), startup_timeout_s
        )
        yield conduit.client


def kafka(data_dir: Path, startup_timeout_s: float) -> AbstractAsyncContextManager[ConduitClient]:
    """Six service processes against a throwaway loopback broker started here."""
    return _kafka(data_dir, startup_timeout_s, transactional=False)


def kafka_traced(
    data_dir: Path, startup_timeout_s: float
) -> AbstractAsyncContextManager[ConduitClient]:
    """The same, every service exporting traces and metrics over OTLP to a real Jaeger."""
    return _kafka(data_dir, startup_timeout_s, transactional=False, otlp=True)


def kafka_transactions(
    data_dir: Path, startup_timeout_s: float
) -> AbstractAsyncContextManager[ConduitClient]:
    """The same, with consume-transform-produce in Kafka transactions."""
    return _kafka(data_dir, startup_timeout_s, transactional=True)


@dataclass(frozen=True)
class KafkaStack:
    """A running Kafka deployment: its client, the client's bus, the topics, and the service
    processes (to start more, the gateway say)."""

    client: ConduitClient
    bus: KafkaBus
    topics: Topics
    processes: ServiceProcesses


@asynccontextmanager
async def _kafka(
    data_dir: Path, startup_timeout_s: float, *, transactional: bool, otlp: bool = False
) -> AsyncIterator[ConduitClient]:
    async with AsyncExitStack() as cleanup:
        env = dict(SCRIPTED_MODEL_ENV)
        if otlp:
            jaeger = JaegerServer()
            cleanup.callback(jaeger.close)
            await asyncio.to_thread(jaeger.start)
            env |= {
                "CONDUIT_TRACES": "otlp",
                "CONDUIT_METRICS_EXPORT": "otlp",
                "CONDUIT_OTLP_ENDPOINT": jaeger.otlp_http_endpoint,
            }
        stack = await cleanup.enter_async_context(
            kafka_stack(data_dir, startup_timeout_s, transactional=transactional, env=env)
        )
        yield stack.client


@asynccontextmanager
async def kafka_stack(
    data_dir: Path,
    startup_timeout_s: float,
    *,
    env: Mapping[str, str],
    transactional: bool = False,
) -> AsyncIterator[KafkaStack]:
    """Six service processes (with `env`) against a throwaway loopback broker started here,
    the knowledge base indexed."""
    topics = Topics(fresh_prefix())
    settings = ConduitSettings()
    async with AsyncExitStack() as cleanup:
        server = KafkaServer()
        cleanup.callback(server.close)
        await asyncio.to_thread(server.start)
        # Up front, so no process races the broker's auto-creation with its own partitions.
        await asyncio.to_thread(
            server.create_topics,
            topics.all_for(list(SERVICE_NAMES), attempts=settings.handler_attempts),
            settings.kafka_partitions,
        )
        stack = ServiceProcesses(
            bootstrap=server.bootstrap_servers,
            data_dir=data_dir,
            env={
                **env,
                "CONDUIT_TOPIC_PREFIX": topics.prefix,
                "CONDUIT_KAFKA_TRANSACTIONS": str(transactional).lower(),
            },
        )
        cleanup.callback(stack.stop_all)
        stack.start_all()
        bus = KafkaBus(
            server.bootstrap_servers, client_id="bench-client", transactional=transactional
        )
        await bus.start()
        cleanup.push_async_callback(bus.stop)
        client = ConduitClient(bus, topics)
        await client.start()
        cleanup.push_async_callback(client.close)
        await load_knowledge(client, stack, data_dir, startup_timeout_s)
        yield KafkaStack(client, bus, topics, stack)


async def load_knowledge(
    client: ConduitClient, stack: ServiceProcesses, data_dir: Path, timeout_s: float
) -> None:
    """Publish the knowledge base and wait until the retrieval process has indexed it all."""
    documents = document_events_from_dir(ConduitSettings().config_dir / "knowledge", TENANT)
    for document in documents:
        await client.publish_document(document)

    def services_alive() -> None:
        dead = [name for name, alive in stack.alive().items() if not alive]
        if dead:
            logs = "\n".join(f"--- {name}\n{stack.log(name)[-2000:]}" for name in dead)
            raise RuntimeError(f"service processes died during start-up: {dead}\n{logs}")

    store = EmbeddedStore(data_dir / "retrieval")
    await wait_until_indexed(store, documents, timeout_s, check=services_alive)


TARGETS: dict[str, Target] = {
    "embedded": embedded,
    "embedded-traced": embedded_traced,
    "kafka": kafka,
    "kafka-traced": kafka_traced,
    "kafka-transactions": kafka_transactions,
}
