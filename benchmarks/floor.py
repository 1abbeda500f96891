"""The physical floor of one bus hop: a plain aiokafka producer to a plain consumer.

One record at a time on a fresh one-partition topic of the broker under test, with the
producer settings the bus uses (`acks=all`, idempotence on): the time from `send` to the
consumer holding the record. No envelope, no routing, no handler, so what a pipeline hop
costs above this is conduit's own.

Example: `await hop_floor_ms("127.0.0.1:9092", records=200)` -> `{"p50": 1.9, ...}`
"""

from __future__ import annotations

import asyncio
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from benchmarks.stats import spread_ms
from shared.bus.kafka import ensure_topics


async def hop_floor_ms(
    bootstrap: str, *, records: int = 300, warmup: int = 30, timeout_s: float = 30.0
) -> dict[str, float]:
    """p50/p95/p99 in ms of `records` produce→consume hops, after `warmup` unmeasured ones."""
    topic = f"bench-floor-{uuid.uuid4().hex}"
    await ensure_topics(bootstrap, [topic], 1)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await producer.start()
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_end(partition)
        await consumer.position(partition)
        hops_us = []
        for index in range(warmup + records):
            payload = index.to_bytes(4, "big")
            started = time.perf_counter_ns()
            await producer.send(topic, payload)
            record = await asyncio.wait_for(consumer.getone(), timeout_s)
            elapsed_us = (time.perf_counter_ns() - started) // 1000
            if record.value != payload:
                raise RuntimeError(f"floor topic {topic}: expected record {index}, got another")
            if index >= warmup:
                hops_us.append(elapsed_us)
    finally:
        await consumer.stop()
        await producer.stop()
    return spread_ms(hops_us)
