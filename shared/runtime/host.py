"""Hosting services on a bus: one service per process, or all of them in one (embedded)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable, Sequence

from shared.bus import Bus, MemoryBus, Topics
from shared.bus.kafka import KafkaBus
from shared.config import ConduitSettings
from shared.runtime.dedupe import ProcessedEvents
from shared.runtime.raw import RawRunner
from shared.runtime.retry import RetryRunner
from shared.runtime.service import StepService
from shared.runtime.steps import StepRunner
from shared.telemetry import configure_logging, configure_tracing
from shared.telemetry.health import Health
from shared.telemetry.metrics import configure_metrics
from shared.workflow import WorkflowRegistry
from shared.workflow.model import SERVICE_NAMES

log = logging.getLogger(__name__)

# Beyond the drain's own grace period, for closing connections and files.
STOP_MARGIN_S = 10.0

ServiceFactory = Callable[[ConduitSettings], StepService]


def make_bus(settings: ConduitSettings, *, client_id: str) -> Bus:
    if settings.bus == "memory":
        return MemoryBus(redelivery_delay_s=settings.retry_backoff_s)
    topics = Topics(settings.topic_prefix)
    return KafkaBus(
        settings.kafka_bootstrap,
        client_id=client_id,
        redelivery_delay_s=settings.retry_backoff_s,
        topics_to_create=topics.all_for(list(SERVICE_NAMES), attempts=settings.handler_attempts),
        partitions=settings.kafka_partitions,
        shutdown_grace_s=settings.shutdown_grace_s,
        max_in_flight=settings.max_in_flight,
        transactional=settings.kafka_transactions,
    )


class ServiceHost:
    """Subscribes services to their topics on one bus and runs them. Example:

    >>> host = ServiceHost(settings, bus, [build_intent(settings)])  # doctest: +SKIP
    >>> await host.start(); ...; await host.stop()  # doctest: +SKIP
    """

    def __init__(
        self,
        settings: ConduitSettings,
        bus: Bus,
        services: Sequence[StepService],
        registry: WorkflowRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.services = list(services)
        self.topics = Topics(settings.topic_prefix)
        self.registry = registry or WorkflowRegistry.load(settings.config_dir / "workflows")
        self._processed: list[ProcessedEvents] = []

    async def start(self) -> None:
        for service in self.services:
            service.warm_up()
            service.bind(self.bus)
            await service.open()
            if service.serves_steps:
                await self._serve_steps(service)
            for consumer in service.raw_consumers:
                self.bus.subscribe(
                    [consumer.topic(self.topics)],
                    group=f"{service.name}.{consumer.name}",
                    handler=RawRunner(
                        consumer, service=service.name, bus=self.bus, settings=self.settings
                    ),
                )
        await self.bus.start()
        log.info("started %s", ", ".join(s.name for s in self.services))

    async def _serve_steps(self, service: StepService) -> None:
        processed = ProcessedEvents(
            self.settings.data_dir / service.name / "processed-events.sqlite3"
        )
        await processed.open()
        self._processed.append(processed)
        runner = StepRunner(
            service,
            bus=self.bus,
            registry=self.registry,
            settings=self.settings,
            processed=processed,
        )
        topics = [self.topics.step(service.name)]
        if service.consumes_ingest:
            topics.append(self.topics.ingest)
        self.bus.subscribe(topics, group=service.name, handler=runner)
        retries = self.topics.retries(service.name, self.settings.handler_attempts)
        if retries:
            self.bus.subscribe(
                retries,
                group=f"{service.name}.retry",
                handler=RetryRunner(runner, max_wait_s=self.settings.retry_max_wait_s),
            )

    async def stop(self) -> None:
        await self.bus.stop()
        for processed in self._processed:
            await processed.close()
        self._processed.clear()
        for service in self.services:
            await service.close()


def run_service(factory: ServiceFactory) -> None:
    """Entry point of `python -m services.<name>`: run until SIGTERM or SIGINT."""
    settings = ConduitSettings()
    asyncio.run(_serve(settings, factory))


async def _serve(settings: ConduitSettings, factory: ServiceFactory) -> None:
    service = factory(settings)
    configure_logging(
        service=service.name, level=settings.log_level, json_format=settings.log_format == "json"
    )
    tracing = configure_tracing(settings, service.name)
    # Probes on the metrics port: live while this loop ticks, ready from subscribed to SIGTERM.
    health = Health()
    metrics = configure_metrics(settings, service.name, health)
    heartbeat = asyncio.create_task(health.heartbeat())
    host = ServiceHost(settings, make_bus(settings, client_id=service.name), [service])
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await host.start()
    health.mark_ready()
    watchdog = (
        asyncio.create_task(stop_when_orphaned(stopping)) if settings.exit_with_parent else None
    )
    await stopping.wait()
    health.mark_not_ready()
    if watchdog is not None:
        watchdog.cancel()
    log.info("%s: stopping", service.name)
    stopped = await stop_within(host, settings.shutdown_grace_s + STOP_MARGIN_S)
    heartbeat.cancel()
    if tracing is not None:
        tracing.shutdown()  # flushes spans still queued
    if metrics is not None:
        metrics.shutdown()  # pushes the last OTLP export
    if not stopped:
        # Worker threads stuck on a dead server would keep the interpreter from exiting;
        # uncommitted records are redelivered to the next consumer, so nothing is lost.
        os._exit(1)


async def stop_within(host: ServiceHost, deadline_s: float) -> bool:
    """Stop `host`, giving up after `deadline_s`: False when it did not finish in time.

    A broker or server that died first can leave a client's shutdown waiting forever.
    """
    try:
        await asyncio.wait_for(host.stop(), deadline_s)
    except TimeoutError:
        log.error("did not stop within %.0f s; exiting without a clean shutdown", deadline_s)
        return False
    return True


async def stop_when_orphaned(stopping: asyncio.Event, poll_s: float = 1.0) -> None:
    parent = os.getppid()
    while os.getppid() == parent:
        await asyncio.sleep(poll_s)
    log.warning("parent process %d is gone; stopping", parent)
    stopping.set()
