"""The deployments under test, each yielding a `Deployment` with the knowledge base indexed.

All use the deterministic scripted stand-in model, so figures are orchestration, the
real MiniLM embedding, retrieval and SQLite tool work, with zero model latency. The
"-traced" variants are the same deployments with telemetry on, to measure what it costs:
embedded writes its local trace file; Kafka exports traces and metrics over OTLP to a real
Jaeger started here. `kafka-2x` runs two processes of every step service.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.cpu import descendant_pids
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

# The second consumer of a group is in the group only once the first has rejoined; this
# is how long the eager rebalance of a loopback broker takes, with margin.
REPLICA_SETTLE_S = 3.0
LOG_TAIL_CHARS = 2000
BENCHMARK_PROCESS = "benchmark process"
SERVICE_PROCESSES = "service processes"
OTHER_PROCESSES = "broker and other children"


@dataclass(frozen=True)
class Deployment:
    """A running deployment: its client, where its CPU is spent, and its broker if any.

    `cpu_groups()` names the processes to read CPU from, as `benchmarks.cpu.read_groups`
    takes them; `bootstrap` is None in one process, where there is no broker.
    """

    client: ConduitClient
    cpu_groups: Callable[[], dict[str, list[int]]]
    bootstrap: str | None
    service_processes: int


Target = Callable[[Path, float], AbstractAsyncContextManager[Deployment]]


def fresh_prefix() -> str:
    """A topic prefix no earlier run used, so no stale records are replayed."""
    return f"bench{time.time_ns()}"


def embedded(data_dir: Path, startup_timeout_s: float) -> AbstractAsyncContextManager[Deployment]:
    """All six services in this process over the in-memory bus.

    The inference service reads its backend from the environment when built: the caller
    sets `SCRIPTED_MODEL_ENV` in `os.environ` first.
    """
    return _embedded(
        ConduitSettings(data_dir=data_dir, topic_prefix=fresh_prefix()), startup_timeout_s
    )


def embedded_traced(
    data_dir: Path, startup_timeout_s: float
) -> AbstractAsyncContextManager[Deployment]:
    """The same, writing every span to the local trace file as `conduit demo` does."""
    settings = ConduitSettings(data_dir=data_dir, topic_prefix=fresh_prefix(), traces="file")
    return _embedded(settings, startup_timeout_s)


@asynccontextmanager
async def _embedded(
    settings: ConduitSettings, startup_timeout_s: float
) -> AsyncIterator[Deployment]:
    async with EmbeddedConduit(settings) as conduit:
        await asyncio.wait_for(
            conduit.load_knowledge(settings.config_dir / "knowledge", TENANT), startup_timeout_s
        )
        yield Deployment(
            conduit.client,
            cpu_groups=lambda: {BENCHMARK_PROCESS: [os.getpid()]},
            bootstrap=None,
            service_processes=0,
        )


def kafka(data_dir: Path, startup_timeout_s: float) -> AbstractAsyncContextManager[Deployment]:
    """Six service processes against a throwaway loopback broker started here."""
    return _kafka(data_dir, startup_timeout_s, transactional=False)


def kafka_2x(data_dir: Path, startup_timeout_s: float) -> AbstractAsyncContextManager[Deployment]:
    """Six step services of two processes each (each pair one consumer group) against a
    throwaway loopback broker started here."""
    return _kafka(data_dir, startup_timeout_s, transactional=False, replicas=2)


def kafka_traced(
    data_dir: Path, startup_timeout_s: float
) -> AbstractAsyncContextManager[Deployment]:
    """The same, every service exporting traces and metrics over OTLP to a real Jaeger."""
    return _kafka(data_dir, startup_timeout_s, transactional=False, otlp=True)


def kafka_transactions(
    data_dir: Path, startup_timeout_s: float
) -> AbstractAsyncContextManager[Deployment]:
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
    bootstrap: str


@asynccontextmanager
async def _kafka(
    data_dir: Path,
    startup_timeout_s: float,
    *,
    transactional: bool,
    otlp: bool = False,
    replicas: int = 1,
) -> AsyncIterator[Deployment]:
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
        # After the knowledge is indexed: a retrieval replica reads the finished index.
        await scale_out(stack.processes, replicas, startup_timeout_s)
        yield Deployment(
            stack.client,
            cpu_groups=lambda: kafka_cpu_groups(stack.processes),
            bootstrap=stack.bootstrap,
            service_processes=len(stack.processes.alive()),
        )


async def scale_out(processes: ServiceProcesses, replicas: int, timeout_s: float) -> None:
    """Start replicas 2..`replicas` of every step service; return once their groups settle."""
    started = {
        processes.start(name, replica=replica): name
        for name in SERVICE_NAMES
        for replica in range(2, replicas + 1)
    }
    deadline = time.monotonic() + timeout_s
    while waiting := [
        key for key, name in started.items() if f"started {name}" not in processes.log(key)
    ]:
        dead = [key for key in waiting if not processes.alive()[key]]
        if dead:
            raise RuntimeError(
                f"replicas died during start-up: {dead}\n{_log_tails(processes, dead)}"
            )
        if time.monotonic() > deadline:
            raise TimeoutError(f"replicas not started within {timeout_s} s: {waiting}")
        await asyncio.sleep(0.2)
    if started:
        await asyncio.sleep(REPLICA_SETTLE_S)


def kafka_cpu_groups(processes: ServiceProcesses) -> dict[str, list[int]]:
    """This process, the service processes (with any children), and every other process
    below this one: the broker, and Jaeger when traced."""
    services = [processes.pid(key) for key, alive in processes.alive().items() if alive]
    services += [child for pid in services for child in descendant_pids(pid)]
    others = [pid for pid in descendant_pids(os.getpid()) if pid not in set(services)]
    return {BENCHMARK_PROCESS: [os.getpid()], SERVICE_PROCESSES: services, OTHER_PROCESSES: others}


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
        yield KafkaStack(client, bus, topics, stack, server.bootstrap_servers)


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
            raise RuntimeError(
                f"service processes died during start-up: {dead}\n{_log_tails(stack, dead)}"
            )

    store = EmbeddedStore(data_dir / "retrieval")
    await wait_until_indexed(store, documents, timeout_s, check=services_alive)


def _log_tails(processes: ServiceProcesses, keys: Sequence[str]) -> str:
    return "\n".join(f"--- {key}\n{processes.log(key)[-LOG_TAIL_CHARS:]}" for key in keys)


TARGETS: dict[str, Target] = {
    "embedded": embedded,
    "embedded-traced": embedded_traced,
    "kafka": kafka,
    "kafka-2x": kafka_2x,
    "kafka-traced": kafka_traced,
    "kafka-transactions": kafka_transactions,
}
