"""In-process bus with Kafka's semantics: keyed partitions, consumer groups, redelivery.

Used by the embedded mode and by unit tests; handlers run the same decode, routing
and publish path as over Kafka.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from shared.bus.base import BusMessage, Handler
from shared.telemetry.propagation import in_trace_context, with_trace_headers

log = logging.getLogger(__name__)


@dataclass
class _Partition:
    pending: deque[BusMessage] = field(default_factory=deque)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class _Group:
    topics: tuple[str, ...]
    handler: Handler
    partitions: dict[tuple[str, int], _Partition] = field(default_factory=dict)


@dataclass
class _MemoryListener:
    handlers: list[Handler]
    handler: Handler

    async def close(self) -> None:
        if self.handler in self.handlers:
            self.handlers.remove(self.handler)


class MemoryBus:
    """Example:

    >>> bus = MemoryBus(partitions=3)
    >>> bus.subscribe(["t"], group="g", handler=handle)  # doctest: +SKIP
    >>> await bus.start(); await bus.publish("t", b"x", key="k", headers={})  # doctest: +SKIP
    """

    def __init__(self, *, partitions: int = 3, redelivery_delay_s: float = 0.05) -> None:
        if partitions < 1:
            raise ValueError("partitions must be at least 1")
        self._partitions = partitions
        self._redelivery_delay_s = redelivery_delay_s
        self._groups: dict[str, _Group] = {}
        self._offsets: dict[tuple[str, int], int] = defaultdict(int)
        self._backlog: dict[str, list[BusMessage]] = defaultdict(list)
        self._tasks: list[asyncio.Task[None]] = []
        self._listeners: dict[str, list[Handler]] = defaultdict(list)
        self._running = False

    def subscribe(self, topics: Sequence[str], *, group: str, handler: Handler) -> None:
        if group in self._groups:
            raise ValueError(f"group {group!r} is already subscribed")
        entry = _Group(tuple(topics), in_trace_context(handler))
        for topic in topics:
            for number in range(self._partitions):
                entry.partitions[(topic, number)] = _Partition()
            for message in self._backlog.pop(topic, []):
                entry.partitions[(topic, message.partition)].pending.append(message)
        self._groups[group] = entry
        if self._running:
            self._spawn(entry)

    async def publish(
        self, topic: str, value: bytes, *, key: str, headers: Mapping[str, str]
    ) -> None:
        partition = zlib.crc32(key.encode()) % self._partitions
        offset = self._offsets[(topic, partition)]
        self._offsets[(topic, partition)] = offset + 1
        message = BusMessage(
            topic=topic,
            value=value,
            key=key.encode(),
            headers=with_trace_headers(headers),
            partition=partition,
            offset=offset,
            timestamp_ms=time.time_ns() // 1_000_000,
        )
        for listener in list(self._listeners[topic]):
            self._tasks.append(asyncio.create_task(_deliver(listener, message)))
        receivers = [g for g in self._groups.values() if topic in g.topics]
        if not receivers:
            self._backlog[topic].append(message)
        for group in receivers:
            slot = group.partitions[(topic, partition)]
            slot.pending.append(message)
            slot.wakeup.set()

    async def listen(self, topic: str, handler: Handler) -> _MemoryListener:
        traced = in_trace_context(handler)
        self._listeners[topic].append(traced)
        return _MemoryListener(self._listeners[topic], traced)

    async def idle(self, *, poll_s: float = 0.01) -> None:
        """Wait until every consumer group has handled everything published so far."""
        # Polling keeps publish() free of bookkeeping; idle() is for demos and tests only.
        while any(slot.pending for g in self._groups.values() for slot in g.partitions.values()):
            await asyncio.sleep(poll_s)

    async def start(self) -> None:
        self._running = True
        for group in self._groups.values():
            self._spawn(group)

    async def stop(self) -> None:
        self._running = False
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def _spawn(self, group: _Group) -> None:
        for slot in group.partitions.values():
            self._tasks.append(asyncio.create_task(self._consume(group.handler, slot)))

    async def _consume(self, handler: Handler, slot: _Partition) -> None:
        while True:
            if not slot.pending:
                slot.wakeup.clear()
                await slot.wakeup.wait()
                continue
            message = slot.pending[0]
            try:
                await handler(message)
            except Exception:
                log.exception(
                    "handler failed on %s/%s@%s; redelivering",
                    message.topic,
                    message.partition,
                    message.offset,
                )
                await asyncio.sleep(self._redelivery_delay_s)
                continue
            slot.pending.popleft()


async def _deliver(handler: Handler, message: BusMessage) -> None:
    # create_task needs a coroutine, while a Handler may return any awaitable.
    await handler(message)
