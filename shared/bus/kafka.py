"""Kafka transport over FastStream + aiokafka.

Offsets are committed only after the handler returns (`AckPolicy.NACK_ON_ERROR`), and
the handler returns only after its outputs are acknowledged by the broker (`acks=all`,
idempotent producer): at-least-once end to end. A raising handler rewinds the
partition, so the message is delivered again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from shared.bus.base import BusMessage, Handler

log = logging.getLogger(__name__)


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
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._redelivery_delay_s = redelivery_delay_s
        self._topics_to_create = list(topics_to_create)
        self._partitions = partitions
        self._broker = KafkaBroker(
            bootstrap_servers,
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            logger=logging.getLogger("conduit.kafka"),
        )

    def subscribe(self, topics: Sequence[str], *, group: str, handler: Handler) -> None:
        delay = self._redelivery_delay_s

        async def consume(body: bytes, message: KafkaMessage) -> None:
            record = message.raw_message
            delivered = BusMessage(
                topic=record.topic,
                value=body,
                key=record.key,
                headers={k: v.decode("utf-8", "replace") for k, v in record.headers},
                partition=record.partition,
                offset=record.offset,
            )
            try:
                await handler(delivered)
            except Exception:
                log.exception(
                    "handler failed on %s/%s@%s; redelivering",
                    record.topic,
                    record.partition,
                    record.offset,
                )
                await asyncio.sleep(delay)
                raise

        subscriber = self._broker.subscriber(
            *topics,
            group_id=group,
            ack_policy=AckPolicy.NACK_ON_ERROR,
            auto_offset_reset="earliest",
        )
        subscriber(consume)

    async def publish(
        self, topic: str, value: bytes, *, key: str, headers: Mapping[str, str]
    ) -> None:
        await self._broker.publish(value, topic, key=key.encode(), headers=dict(headers))

    async def start(self) -> None:
        if self._topics_to_create:
            await ensure_topics(self._bootstrap, self._topics_to_create, self._partitions)
        await self._broker.start()

    async def stop(self) -> None:
        await self._broker.stop()


async def ensure_topics(bootstrap_servers: str, names: Sequence[str], partitions: int) -> None:
    """Create missing topics; existing ones are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(n, partitions, 1) for n in names if n not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                log.debug("topics created concurrently by another process")
    finally:
        await admin.close()
