"""Concurrency for one consumer: many keys at once, one key at a time, bounded in flight.

Kafka orders records per partition, but a partition carries many conversations. The
dispatcher runs records of different keys concurrently and records of one key strictly in
order, holds at most `max_in_flight` records, and makes back-pressure real: `submit` waits
for a free slot, so the consumer stops fetching when the service is saturated.

Offsets are committed per partition only up to the first record not yet finished (the
watermark), so a crash never skips an unfinished record, whatever order records finish in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field

from shared.bus.base import BusMessage, Handler

log = logging.getLogger(__name__)

Partition = tuple[str, int]
Commit = Callable[[Partition, int], Awaitable[None]]


class DispatcherClosed(RuntimeError):
    """The dispatcher is draining for shutdown and takes no new records."""


@dataclass
class _PartitionOffsets:
    """Offsets handed out and finished, to find the commit watermark."""

    pending: set[int] = field(default_factory=set)
    finished: set[int] = field(default_factory=set)
    committed: int = -1

    def watermark(self) -> int | None:
        """The offset to commit (next to read), or None when nothing new is safe."""
        if not self.finished:
            return None
        lowest_open = min(self.pending) if self.pending else None
        done = [o for o in self.finished if lowest_open is None or o < lowest_open]
        if not done:
            return None
        highest = max(done)
        self.finished -= set(done)
        return highest + 1


class KeyedDispatcher:
    """Example:

    >>> dispatcher = KeyedDispatcher(handler, commit, max_in_flight=16)
    >>> await dispatcher.submit(message)  # doctest: +SKIP
    >>> await dispatcher.drain()  # shutdown: finish and commit what was accepted  # doctest: +SKIP
    """

    def __init__(
        self,
        handler: Handler,
        commit: Commit,
        *,
        max_in_flight: int,
        retry_delay_s: float = 0.5,
        max_retry_delay_s: float = 10.0,
        order_by: Callable[[BusMessage], Hashable] = lambda message: message.key,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self._handler = handler
        self._commit = commit
        self._slots = asyncio.Semaphore(max_in_flight)
        self._retry_delay_s = retry_delay_s
        self._max_retry_delay_s = max_retry_delay_s
        self._order_by = order_by
        self._tails: dict[Hashable, asyncio.Task[None]] = {}
        self._offsets: dict[Partition, _PartitionOffsets] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def submit(self, message: BusMessage) -> None:
        if self._closed:
            raise DispatcherClosed("draining: the record stays uncommitted for the next owner")
        await self._slots.acquire()
        partition = (message.topic, message.partition)
        self._offsets.setdefault(partition, _PartitionOffsets()).pending.add(message.offset)
        lane = self._order_by(message)
        previous = self._tails.get(lane)
        task = asyncio.create_task(self._run(message, lane, previous))
        self._tails[lane] = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, partitions: set[Partition] | None = None) -> None:
        """Wait for accepted records (of `partitions`, or all) to finish and be committed."""
        if partitions is None:
            self._closed = True
        while self._tasks:
            offsets = self._offsets.items()
            if not any(o.pending for p, o in offsets if partitions is None or p in partitions):
                return
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def forget(self, partitions: set[Partition]) -> None:
        """After a rebalance took `partitions` away: their watermarks start afresh."""
        for partition in partitions:
            self._offsets.pop(partition, None)

    async def _run(
        self, message: BusMessage, lane: Hashable, previous: asyncio.Task[None] | None
    ) -> None:
        try:
            if previous is not None:
                await asyncio.shield(previous)
            await self._handle_until_done(message)
            await self._finish(message)
        finally:
            self._slots.release()
            if self._tails.get(lane) is asyncio.current_task():
                del self._tails[lane]

    async def _handle_until_done(self, message: BusMessage) -> None:
        # The runtime turns every failure of a step into an event; what still raises here is
        # the infrastructure (the broker unreachable), so the record waits for it to return.
        delay = self._retry_delay_s
        while True:
            try:
                await self._handler(message)
                return
            except Exception:
                log.exception(
                    "handling %s/%s@%s failed; retrying in %.1f s",
                    message.topic,
                    message.partition,
                    message.offset,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_retry_delay_s)

    async def _finish(self, message: BusMessage) -> None:
        partition = (message.topic, message.partition)
        offsets = self._offsets.get(partition)
        if offsets is None:  # the partition was revoked meanwhile
            return
        offsets.pending.discard(message.offset)
        offsets.finished.add(message.offset)
        watermark = offsets.watermark()
        if watermark is not None and watermark > offsets.committed:
            offsets.committed = watermark
            try:
                await self._commit(partition, watermark)
            except Exception:
                # A rebalance moved the partition: its next owner reads from the last commit
                # and skips what this one finished (the runtime's duplicate check).
                log.warning("commit of %s@%d failed", partition, watermark, exc_info=True)
