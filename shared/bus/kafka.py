"""Kafka transport over FastStream + aiokafka.

Offsets are committed only after the handler returns (`AckPolicy.NACK_ON_ERROR`), and
the handler returns only after its outputs are acknowledged by the broker (`acks=all`,
idempotent producer): at-least-once end to end. A raising handler rewinds the
partition, so the message is delivered again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Literal, cast
from uuid import uuid4

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaMessage
from faststream.message import StreamMessage

from shared.bus.base import BusMessage, Handler
from shared.bus.dispatch import KeyedDispatcher, Partition
from shared.bus.topics import Topics
from shared.bus.transactions import TransactionalPublisher
from shared.telemetry.metrics import CONSUMER_LAG
from shared.telemetry.propagation import in_trace_context, with_trace_headers

log = logging.getLogger(__name__)

Isolation = Literal["read_committed", "read_uncommitted"]

_AUDIT_SUFFIX = Topics("").audit
_KEPT_FOREVER = {"retention.ms": "-1", "retention.bytes": "-1"}


class KafkaBus:
    """Example:

    >>> bus = KafkaBus("127.0.0.1:9092", client_id="intent")
    >>> bus.subscribe(["conduit.step.intent"], group="intent", handler=handle)  # doctest: +SKIP
    >>> await bus.start()  # doctest: +SKIP
    """

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        client_id: str,
        redelivery_delay_s: float = 0.5,
        topics_to_create: Sequence[str] = (),
        partitions: int = 3,
        shutdown_grace_s: float = 25.0,
        max_in_flight: int = 16,
        transactional: bool = False,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._shutdown_grace_s = shutdown_grace_s
        self._max_in_flight = max_in_flight
        self._dispatchers: list[KeyedDispatcher] = []
        self._lag_tasks: list[asyncio.Task[None]] = []
        self._transactions = (
            TransactionalPublisher(bootstrap_servers, transactional_id=f"{client_id}-{uuid4().hex}")
            if transactional
            else None
        )
        self._isolation: Isolation = "read_committed" if transactional else "read_uncommitted"
        self._redelivery_delay_s = redelivery_delay_s
        self._topics_to_create = list(topics_to_create)
        self._partitions = partitions
        self._broker = KafkaBroker(
            bootstrap_servers,
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            logger=logging.getLogger("conduit.kafka"),
            # A line per record received and processed is noise next to the traces.
            log_level=logging.DEBUG,
            # No dependency injection per record: it resolves each injected argument in a
            # worker thread. The handler takes the record as the decoder hands it over.
            apply_types=False,
        )

    def subscribe(self, topics: Sequence[str], *, group: str, handler: Handler) -> None:
        handler = in_trace_context(handler)
        consumer: list[AIOKafkaConsumer] = []

        async def commit(partition: Partition, offset: int) -> None:
            await consumer[0].commit({TopicPartition(*partition): offset})

        if self._transactions is None:
            run, lanes, on_done = handler, _by_key, commit
        else:
            # Offsets go with each transaction, which must cover every record before it.
            run, lanes, on_done = self._transactions.wrap(handler, group), _by_partition, _no_commit
        dispatcher = KeyedDispatcher(
            run,
            on_done,
            max_in_flight=self._max_in_flight,
            retry_delay_s=self._redelivery_delay_s,
            order_by=lanes,
        )
        self._dispatchers.append(dispatcher)

        async def consume(message: KafkaMessage) -> None:
            if not consumer:
                consumer.append(cast(AIOKafkaConsumer, message.consumer))
                self._lag_tasks.append(asyncio.create_task(_report_lag(consumer[0], group)))
            # Not a batch subscriber: the raw message is one record, never a tuple of them.
            record = cast("ConsumerRecord[bytes, bytes]", message.raw_message)
            await dispatcher.submit(_from_record(record))

        subscriber = self._broker.subscriber(
            *topics,
            group_id=group,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            decoder=_the_message,
            listener=_DrainOnRevoke(dispatcher, self._shutdown_grace_s),
            isolation_level=self._isolation,
        )
        subscriber(consume)

    async def publish(
        self, topic: str, value: bytes, *, key: str, headers: Mapping[str, str]
    ) -> None:
        headers = with_trace_headers(headers)
        if self._transactions is not None and self._transactions.buffer(topic, value, key, headers):
            return
        await self._broker.publish(value, topic, key=key.encode(), headers=dict(headers))

    async def listen(self, topic: str, handler: Handler) -> KafkaListener:
        listener = KafkaListener(
            self._bootstrap,
            topic,
            in_trace_context(handler),
            partitions=self._partitions,
            isolation_level=self._isolation,
        )
        try:
            await listener.start()
        except BaseException:
            await listener.close()
            raise
        return listener

    async def start(self) -> None:
        if self._topics_to_create:
            await ensure_topics(self._bootstrap, self._topics_to_create, self._partitions)
        if self._transactions is not None:
            await self._transactions.start()
        await self._broker.start()

    async def stop(self) -> None:
        """Drain: finish and commit accepted records, then close the connections."""
        for task in self._lag_tasks:
            task.cancel()
        for dispatcher in self._dispatchers:
            try:
                await asyncio.wait_for(dispatcher.drain(), self._shutdown_grace_s)
            except TimeoutError:
                log.warning(
                    "%d records still in flight at shutdown; they will be redelivered",
                    dispatcher.in_flight,
                )
        await self._broker.stop()
        if self._transactions is not None:
            await self._transactions.stop()


async def _report_lag(consumer: AIOKafkaConsumer, group: str, every_s: float = 5.0) -> None:
    """Keep `conduit_consumer_lag` current: the partition's end minus our position."""
    while True:
        for partition in consumer.assignment():
            end = consumer.highwater(partition)
            if end is None:
                continue
            with contextlib.suppress(Exception):  # revoked meanwhile: next round skips it
                lag = end - await consumer.position(partition)
                CONSUMER_LAG.set(
                    lag,
                    {"group": group, "topic": partition.topic, "partition": partition.partition},
                )
        await asyncio.sleep(every_s)


async def ensure_topics(bootstrap_servers: str, names: Sequence[str], partitions: int) -> None:
    """Create missing topics (the audit topic kept forever); existing ones are left as they
    are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [_new_topic(n, partitions) for n in names if n not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                log.debug("topics created concurrently by another process")
    finally:
        await admin.close()


def _new_topic(name: str, partitions: int) -> NewTopic:
    """The audit trail is kept forever, whatever the broker's default retention."""
    configs = _KEPT_FOREVER if name.endswith(_AUDIT_SUFFIX) else {}
    return NewTopic(name, partitions, 1, topic_configs=configs)


class _DrainOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]  # untyped base
    """Before a partition moves to another consumer, finish and commit what was accepted."""

    def __init__(self, dispatcher: KeyedDispatcher, timeout_s: float) -> None:
        self._dispatcher = dispatcher
        self._timeout_s = timeout_s

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        partitions = {(tp.topic, tp.partition) for tp in revoked}
        try:
            await asyncio.wait_for(self._dispatcher.drain(partitions), self._timeout_s)
        except TimeoutError:
            log.warning(
                "rebalance: records of %s still in flight; the next owner redoes them",
                sorted(partitions),
            )
        self._dispatcher.forget(partitions)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """Nothing to do: consumption resumes from the committed offsets."""


class KafkaListener:
    """Reads a topic from its current end on every partition, without a consumer group.

    Positions are fixed before `start()` returns, so nothing published afterwards is missed.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        handler: Handler,
        *,
        partitions: int,
        isolation_level: Isolation = "read_uncommitted",
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._partitions = partitions
        self._topic = topic
        self._handler = handler
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            enable_auto_commit=False,
            isolation_level=isolation_level,
            # A topic created a moment ago may be missing from the first metadata answer;
            # refresh often so its partitions are assigned within a second, not minutes.
            metadata_max_age_ms=500,
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await ensure_topics(self._bootstrap, [self._topic], self._partitions)
        await self._consumer.start()
        # Without a group, subscribing assigns every partition and follows metadata changes.
        self._consumer.subscribe([self._topic])
        assigned = await self._assignment()
        await self._consumer.seek_to_end(*assigned)
        for partition in assigned:
            await self._consumer.position(partition)
        self._task = asyncio.create_task(self._run())

    async def _assignment(self, timeout_s: float = 30.0) -> list[TopicPartition]:
        """A topic created a moment ago reaches the metadata a little later."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while len(self._consumer.assignment()) < self._partitions and loop.time() < deadline:
            await asyncio.sleep(0.1)
        assigned = sorted(self._consumer.assignment())
        if not assigned:
            raise TimeoutError(f"no partition of {self._topic} assigned after {timeout_s} s")
        return assigned

    async def _run(self) -> None:
        async for record in self._consumer:
            await self._handler(_from_record(record))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._consumer.stop()


def _by_key(message: BusMessage) -> Hashable:
    return message.key


def _by_partition(message: BusMessage) -> Hashable:
    return (message.topic, message.partition)


async def _no_commit(partition: Partition, offset: int) -> None:
    """With transactions the consumed offset was committed inside the transaction."""


async def _the_message(message: StreamMessage[Any]) -> StreamMessage[Any]:
    """Hand the record over undecoded: FastStream would otherwise parse any body that looks
    like JSON, and a foreign record could then fail before our handler sees it."""
    return message


def _from_record(record: ConsumerRecord[bytes, bytes]) -> BusMessage:
    return BusMessage(
        topic=record.topic,
        value=record.value or b"",
        key=record.key,
        headers={k: v.decode("utf-8", "replace") for k, v in record.headers},
        partition=record.partition,
        offset=record.offset,
        timestamp_ms=record.timestamp,
    )
