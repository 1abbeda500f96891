"""The Kafka transport's delivery guarantees, against the real broker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

import pytest

from shared.bus import BusMessage
from shared.bus.kafka import KafkaBus
from shared.testing import KafkaServer

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(120)]


def _topic(name: str) -> str:
    return f"bus-{name}-{time.time_ns()}"


async def _until(condition: Callable[[], bool], timeout_s: float = 45.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def _consume(
    kafka: KafkaServer,
    topic: str,
    group: str,
    handle: Callable[[BusMessage], Awaitable[None]],
    *,
    also_create: Sequence[str] = (),
    transactional: bool = False,
) -> KafkaBus:
    bus = KafkaBus(
        kafka.bootstrap_servers,
        client_id=group,
        redelivery_delay_s=0.05,
        topics_to_create=[topic, *also_create],
        shutdown_grace_s=3.0,
        transactional=transactional,
    )
    bus.subscribe([topic], group=group, handler=handle)
    await bus.start()
    return bus


async def test_a_failing_handler_gets_the_same_message_again(kafka_server: KafkaServer) -> None:
    topic = _topic("redeliver")
    seen: list[bytes] = []

    async def fail_once(message: BusMessage) -> None:
        seen.append(message.value)
        if len(seen) == 1:
            raise RuntimeError("transient failure")

    bus = await _consume(kafka_server, topic, "g-redeliver", fail_once)
    try:
        await bus.publish(topic, b"refund-1", key="s1", headers={"h": "v"})
        await _until(lambda: len(seen) >= 2)
    finally:
        await bus.stop()
    assert seen[:2] == [b"refund-1", b"refund-1"], f"expected a redelivery, saw {seen}"


async def test_a_message_whose_handler_never_finished_is_delivered_to_the_next_consumer(
    kafka_server: KafkaServer,
) -> None:
    topic = _topic("crash")
    started = asyncio.Event()

    async def hang(message: BusMessage) -> None:
        started.set()
        await asyncio.sleep(3600)

    first = await _consume(kafka_server, topic, "g-crash", hang)
    await first.publish(topic, b"order-7", key="s7", headers={})
    await asyncio.wait_for(started.wait(), 45)
    await first.stop()  # the handler never returned, so the offset was never committed

    received: list[bytes] = []

    async def record(message: BusMessage) -> None:
        received.append(message.value)

    second = await _consume(kafka_server, topic, "g-crash", record)
    try:
        await _until(lambda: bool(received))
    finally:
        await second.stop()
    assert received == [b"order-7"], f"the uncommitted message was lost: {received}"


async def test_messages_of_one_key_arrive_in_publish_order(kafka_server: KafkaServer) -> None:
    topic = _topic("order")
    received: list[bytes] = []

    async def record(message: BusMessage) -> None:
        received.append(message.value)

    bus = await _consume(kafka_server, topic, "g-order", record)
    try:
        for number in range(20):
            await bus.publish(topic, str(number).encode(), key="one-session", headers={})
        await _until(lambda: len(received) >= 20)
    finally:
        await bus.stop()
    assert received == [str(n).encode() for n in range(20)], received


async def test_stopping_lets_in_flight_work_finish_and_commits_it(
    kafka_server: KafkaServer,
) -> None:
    topic = _topic("drain")
    started, finished = asyncio.Event(), []

    async def slow(message: BusMessage) -> None:
        started.set()
        await asyncio.sleep(1.0)
        finished.append(message.value)

    first = await _consume(kafka_server, topic, "g-drain", slow)
    await first.publish(topic, b"refund-9", key="s9", headers={})
    await asyncio.wait_for(started.wait(), 45)
    await first.stop()  # what SIGTERM does: drain, then commit
    assert finished == [b"refund-9"], "stop() cut the in-flight handler short"

    again: list[bytes] = []

    async def record(message: BusMessage) -> None:
        again.append(message.value)

    second = await _consume(kafka_server, topic, "g-drain", record)
    try:
        await second.publish(topic, b"marker", key="s9", headers={})
        await _until(lambda: b"marker" in again)
    finally:
        await second.stop()
    assert again == [b"marker"], f"the drained message was delivered again: {again}"


async def test_different_sessions_are_handled_concurrently_and_one_session_in_order(
    kafka_server: KafkaServer,
) -> None:
    topic = _topic("keyed")
    running, peak = 0, 0
    seen: list[tuple[bytes | None, bytes]] = []

    async def slow(message: BusMessage) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.2)
        seen.append((message.key, message.value))
        running -= 1

    bus = await _consume(kafka_server, topic, "g-keyed", slow)
    try:
        for number in range(5):
            for session in ("a", "b", "c", "d"):
                await bus.publish(topic, str(number).encode(), key=session, headers={})
        await _until(lambda: len(seen) >= 20)
    finally:
        await bus.stop()
    assert peak > 1, "records of different sessions were handled one at a time"
    for session in ("a", "b", "c", "d"):
        order = [value for key, value in seen if key == session.encode()]
        assert order == [str(n).encode() for n in range(5)], f"session {session!r}: {order}"


async def test_a_transactional_handler_publishes_once_even_when_its_first_attempt_fails(
    kafka_server: KafkaServer,
) -> None:
    source, sink = _topic("tx-in"), _topic("tx-out")
    attempts: list[int] = []
    outputs: list[bytes] = []

    async def transform(message: BusMessage) -> None:
        attempts.append(message.offset)
        await bus.publish(sink, message.value + b"-out", key="k", headers={})
        if len(attempts) == 1:
            raise ConnectionError("crashed after publishing, before committing")

    async def collect(message: BusMessage) -> None:
        outputs.append(message.value)

    bus = await _consume(
        kafka_server, source, "g-tx", transform, also_create=[sink], transactional=True
    )
    tap = await bus.listen(sink, collect)
    try:
        await bus.publish(source, b"refund-3", key="k", headers={})
        await _until(lambda: len(attempts) >= 2)
        await asyncio.sleep(1.0)
    finally:
        await tap.close()
        await bus.stop()
    assert outputs == [b"refund-3-out"], f"a failed attempt's output leaked or doubled: {outputs}"


async def test_a_transaction_commits_the_consumed_offset_with_the_outputs(
    kafka_server: KafkaServer,
) -> None:
    source, sink = _topic("tx-offset-in"), _topic("tx-offset-out")
    handled: list[bytes] = []

    async def transform(message: BusMessage) -> None:
        handled.append(message.value)
        await first.publish(sink, message.value, key="k", headers={})

    first = await _consume(
        kafka_server, source, "g-tx-offset", transform, also_create=[sink], transactional=True
    )
    await first.publish(source, b"one", key="k", headers={})
    await _until(lambda: handled == [b"one"])
    await first.stop()

    again: list[bytes] = []

    async def record(message: BusMessage) -> None:
        again.append(message.value)

    second = await _consume(
        kafka_server, source, "g-tx-offset", record, also_create=[sink], transactional=True
    )
    try:
        await second.publish(source, b"two", key="k", headers={})
        await _until(lambda: b"two" in again)
    finally:
        await second.stop()
    assert again == [b"two"], f"a record committed in a transaction came back: {again}"
