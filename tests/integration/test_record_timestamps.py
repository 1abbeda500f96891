"""Records consumed from the real broker carry their production time, which the queue-wait
metric (`conduit.queue.wait`, the services' LLM-aware scaling signal) measures from."""

from __future__ import annotations

import asyncio
import time

import pytest

from shared.bus import BusMessage
from shared.bus.kafka import KafkaBus
from shared.testing import KafkaServer

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(120)]

DELIVERED_WITHIN_S = 45.0


async def test_a_consumed_record_carries_the_time_it_was_produced(
    kafka_server: KafkaServer,
) -> None:
    topic = f"timestamps-{time.time_ns()}"
    delivered: list[BusMessage] = []

    async def keep(message: BusMessage) -> None:
        delivered.append(message)

    bus = KafkaBus(
        kafka_server.bootstrap_servers,
        client_id="timestamps",
        topics_to_create=[topic],
        shutdown_grace_s=3.0,
    )
    bus.subscribe([topic], group="timestamps", handler=keep)
    await bus.start()
    try:
        before_ms = time.time_ns() // 1_000_000
        await bus.publish(topic, b"x", key="session", headers={})
        after_ms = time.time_ns() // 1_000_000
        deadline = time.monotonic() + DELIVERED_WITHIN_S
        while not delivered:
            assert time.monotonic() < deadline, f"nothing delivered in {DELIVERED_WITHIN_S} s"
            await asyncio.sleep(0.1)
    finally:
        await bus.stop()
    stamped = delivered[0].timestamp_ms
    assert stamped is not None, "the Kafka record reached the handler without its timestamp"
    assert before_ms <= stamped <= after_ms, (
        f"produced between {before_ms} and {after_ms}, stamped {stamped}"
    )
