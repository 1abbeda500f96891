"""The in-memory bus keeps Kafka's semantics: keyed partitions, consumer groups, redelivery."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator

import pytest

from shared.bus import BusMessage, Handler, MemoryBus

PARTITIONS = 3
WAIT_S = 2.0


def _keys_on_different_partitions() -> tuple[str, str]:
    first = "key-0"
    for number in range(1, 100):
        other = f"key-{number}"
        if zlib.crc32(other.encode()) % PARTITIONS != zlib.crc32(first.encode()) % PARTITIONS:
            return first, other
    raise AssertionError("no two keys on different partitions")


@pytest.fixture
async def bus() -> AsyncIterator[MemoryBus]:
    bus = MemoryBus(partitions=PARTITIONS, redelivery_delay_s=0.001)
    yield bus
    await bus.stop()


async def _publish(bus: MemoryBus, topic: str, *values: str, key: str = "session-1") -> None:
    for value in values:
        await bus.publish(topic, value.encode(), key=key, headers={"h": value})


async def _idle(bus: MemoryBus) -> None:
    await asyncio.wait_for(bus.idle(), WAIT_S)


async def test_messages_with_one_key_share_a_partition_and_arrive_in_order(
    bus: MemoryBus,
) -> None:
    received: list[BusMessage] = []

    async def handle(message: BusMessage) -> None:
        await asyncio.sleep(0)
        received.append(message)

    bus.subscribe(["t"], group="g", handler=handle)
    await bus.start()
    values = [f"m{n}" for n in range(20)]
    await _publish(bus, "t", *values)
    await _idle(bus)

    assert [m.value.decode() for m in received] == values, "one key's messages arrived out of order"
    assert len({m.partition for m in received}) == 1, "one key's messages spread over partitions"
    assert [m.offset for m in received] == list(range(20)), "offsets must count up per partition"


async def test_a_delivered_message_carries_key_and_headers(bus: MemoryBus) -> None:
    received: list[BusMessage] = []

    async def handle(message: BusMessage) -> None:
        received.append(message)

    bus.subscribe(["t"], group="g", handler=handle)
    await bus.start()
    await _publish(bus, "t", "m0", key="session-7")
    await _idle(bus)

    assert (received[0].topic, received[0].key, received[0].headers) == (
        "t",
        b"session-7",
        {"h": "m0"},
    ), f"the delivered message lost its coordinates: {received[0]}"


async def test_messages_with_different_keys_are_handled_concurrently(bus: MemoryBus) -> None:
    first_key, second_key = _keys_on_different_partitions()
    second_handled = asyncio.Event()

    async def handle(message: BusMessage) -> None:
        if message.key == first_key.encode():
            # Only finishes if the other partition's message runs while this one waits.
            await asyncio.wait_for(second_handled.wait(), WAIT_S)
        else:
            second_handled.set()

    bus.subscribe(["t"], group="g", handler=handle)
    await bus.start()
    await _publish(bus, "t", "slow", key=first_key)
    await _publish(bus, "t", "fast", key=second_key)
    await _idle(bus)

    assert second_handled.is_set(), "a blocked partition held up another partition"


async def test_a_failing_message_is_redelivered_and_holds_back_its_partition(
    bus: MemoryBus,
) -> None:
    calls: list[str] = []

    async def handle(message: BusMessage) -> None:
        value = message.value.decode()
        calls.append(value)
        if value == "first" and calls.count("first") < 3:
            raise RuntimeError("transient")

    bus.subscribe(["t"], group="g", handler=handle)
    await bus.start()
    await _publish(bus, "t", "first", "second")
    await _idle(bus)

    assert calls == ["first", "first", "first", "second"], (
        f"a raising handler must get the same message again before later ones: {calls}"
    )


async def test_every_consumer_group_gets_every_message(bus: MemoryBus) -> None:
    received: dict[str, list[str]] = {"a": [], "b": []}

    def recorder(group: str) -> Handler:
        async def handle(message: BusMessage) -> None:
            received[group].append(message.value.decode())

        return handle

    bus.subscribe(["t"], group="a", handler=recorder("a"))
    bus.subscribe(["t"], group="b", handler=recorder("b"))
    await bus.start()
    await _publish(bus, "t", "m0", "m1")
    await _idle(bus)

    assert received == {"a": ["m0", "m1"], "b": ["m0", "m1"]}, (
        f"each group must consume the topic independently: {received}"
    )


async def test_a_group_gets_only_its_topics(bus: MemoryBus) -> None:
    received: list[str] = []

    async def handle(message: BusMessage) -> None:
        received.append(message.topic)

    bus.subscribe(["t"], group="g", handler=handle)
    bus.subscribe(["other"], group="h", handler=lambda _: asyncio.sleep(0))
    await bus.start()
    await _publish(bus, "other", "m0")
    await _publish(bus, "t", "m1")
    await _idle(bus)

    assert received == ["t"], f"a group received a topic it did not subscribe to: {received}"


async def test_messages_published_before_subscribing_reach_the_first_group(
    bus: MemoryBus,
) -> None:
    received: list[str] = []

    async def handle(message: BusMessage) -> None:
        received.append(message.value.decode())

    await bus.start()
    await _publish(bus, "t", "early-0", "early-1")
    bus.subscribe(["t"], group="g", handler=handle)
    await _publish(bus, "t", "late")
    await _idle(bus)

    assert received == ["early-0", "early-1", "late"], (
        f"messages published before the first subscription were lost: {received}"
    )


async def test_a_group_subscribed_after_start_consumes(bus: MemoryBus) -> None:
    received: list[str] = []

    async def handle(message: BusMessage) -> None:
        received.append(message.value.decode())

    await bus.start()
    bus.subscribe(["t"], group="g", handler=handle)
    await _publish(bus, "t", "m0")
    await _idle(bus)

    assert received == ["m0"], "a group subscribed on a running bus must be started"


async def test_a_listener_receives_only_messages_published_after_it(bus: MemoryBus) -> None:
    heard: asyncio.Queue[str] = asyncio.Queue()

    async def listen(message: BusMessage) -> None:
        await heard.put(message.value.decode())

    await bus.start()
    await _publish(bus, "t", "before")
    listener = await bus.listen("t", listen)
    await _publish(bus, "t", "after")

    assert await asyncio.wait_for(heard.get(), WAIT_S) == "after", "listener missed its message"
    await asyncio.sleep(0.01)
    assert heard.empty(), "a listener must not receive messages from before it started"
    await listener.close()


async def test_a_closed_listener_receives_nothing(bus: MemoryBus) -> None:
    heard: list[str] = []

    async def listen(message: BusMessage) -> None:
        heard.append(message.value.decode())

    await bus.start()
    listener = await bus.listen("t", listen)
    await listener.close()
    await _publish(bus, "t", "after-close")
    await asyncio.sleep(0.01)

    assert heard == [], f"a closed listener still received messages: {heard}"


async def test_a_listener_does_not_consume_for_a_group(bus: MemoryBus) -> None:
    grouped: list[str] = []

    async def handle(message: BusMessage) -> None:
        grouped.append(message.value.decode())

    await bus.start()
    listener = await bus.listen("t", lambda _: asyncio.sleep(0))
    await _publish(bus, "t", "m0")
    bus.subscribe(["t"], group="g", handler=handle)
    await _idle(bus)
    await listener.close()

    assert grouped == ["m0"], "a message seen by a listener must still reach the first group"


async def test_idle_returns_once_every_message_and_its_follow_ups_are_handled(
    bus: MemoryBus,
) -> None:
    handled: list[str] = []

    async def first_hop(message: BusMessage) -> None:
        await asyncio.sleep(0.005)
        await bus.publish("second", message.value, key="session-1", headers={})

    async def second_hop(message: BusMessage) -> None:
        await asyncio.sleep(0.005)
        handled.append(message.value.decode())

    bus.subscribe(["first"], group="one", handler=first_hop)
    bus.subscribe(["second"], group="two", handler=second_hop)
    await bus.start()
    await _publish(bus, "first", "m0", "m1", "m2")
    await _idle(bus)

    assert handled == ["m0", "m1", "m2"], (
        f"idle() returned before follow-up messages were handled: {handled}"
    )


async def test_a_group_name_can_subscribe_only_once(bus: MemoryBus) -> None:
    bus.subscribe(["t"], group="g", handler=lambda _: asyncio.sleep(0))

    with pytest.raises(ValueError, match="already subscribed"):
        bus.subscribe(["u"], group="g", handler=lambda _: asyncio.sleep(0))


def test_a_bus_needs_at_least_one_partition() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        MemoryBus(partitions=0)
