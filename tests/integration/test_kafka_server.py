"""The real broker behind the ``kafka_server`` fixture: round trips and restarts."""

import asyncio
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.testing import KafkaServer, KafkaUnavailableError

TIMEOUT_S = 30.0


def _topic(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def _produce(bootstrap_servers: str, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    async with asyncio.timeout(TIMEOUT_S):
        await producer.start()
        try:
            for value in values:
                await producer.send_and_wait(topic, value)
        finally:
            await producer.stop()


async def _consume(bootstrap_servers: str, topic: str, count: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        group_id=_topic("test-group"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    received: list[bytes] = []
    async with asyncio.timeout(TIMEOUT_S):
        await consumer.start()
        try:
            while len(received) < count:
                batches = await consumer.getmany(timeout_ms=500)
                received += [msg.value for msgs in batches.values() for msg in msgs if msg.value]
            await consumer.commit()
        finally:
            await consumer.stop()
    return received


@pytest.mark.kafka
async def test_message_round_trips_through_real_broker(kafka_server: KafkaServer) -> None:
    topic = _topic("round-trip")
    kafka_server.create_topics([topic], partitions=1)

    await _produce(kafka_server.bootstrap_servers, topic, [b"hello"])

    assert await _consume(kafka_server.bootstrap_servers, topic, 1) == [b"hello"]


@pytest.mark.kafka
async def test_auto_created_topic_gets_default_partitions(kafka_server: KafkaServer) -> None:
    topic = _topic("auto-created")

    producer = AIOKafkaProducer(bootstrap_servers=kafka_server.bootstrap_servers)
    async with asyncio.timeout(TIMEOUT_S):
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"x")
            partitions = await producer.partitions_for(topic)
        finally:
            await producer.stop()

    assert partitions == {0, 1, 2}


@pytest.mark.kafka
async def test_restart_keeps_messages_and_address(kafka_server: KafkaServer) -> None:
    topic = _topic("restart")
    kafka_server.create_topics([topic], partitions=1)
    bootstrap_servers = kafka_server.bootstrap_servers
    await _produce(bootstrap_servers, topic, [b"before"])

    await asyncio.to_thread(kafka_server.restart)

    assert kafka_server.bootstrap_servers == bootstrap_servers
    await _produce(bootstrap_servers, topic, [b"after"])
    assert await _consume(bootstrap_servers, topic, 2) == [b"before", b"after"]


def test_missing_jars_are_reported_as_unavailable(tmp_path: Path) -> None:
    with pytest.raises(KafkaUnavailableError):
        KafkaServer(libs_dir=tmp_path).start()
