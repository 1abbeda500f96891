"""The keyed dispatcher's rules: concurrency across keys, order within a key, a commit
watermark that never passes an unfinished record, and back-pressure."""

from __future__ import annotations

import asyncio

import pytest

from shared.bus import BusMessage
from shared.bus.dispatch import DispatcherClosed, KeyedDispatcher, Partition


def _message(offset: int, key: str, partition: int = 0) -> BusMessage:
    return BusMessage(
        topic="t", value=str(offset).encode(), key=key.encode(), partition=partition, offset=offset
    )


class Gates:
    """A handler whose records finish only when the test opens their gate."""

    def __init__(self) -> None:
        self.gates: dict[int, asyncio.Event] = {}
        self.started: list[int] = []
        self.commits: list[tuple[Partition, int]] = []

    async def handle(self, message: BusMessage) -> None:
        self.started.append(message.offset)
        await self.gates.setdefault(message.offset, asyncio.Event()).wait()

    async def commit(self, partition: Partition, offset: int) -> None:
        self.commits.append((partition, offset))

    def open(self, offset: int) -> None:
        self.gates.setdefault(offset, asyncio.Event()).set()


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_the_commit_waits_for_the_lowest_unfinished_offset() -> None:
    gates = Gates()
    dispatcher = KeyedDispatcher(gates.handle, gates.commit, max_in_flight=8)
    for offset, key in ((0, "a"), (1, "b"), (2, "c")):
        await dispatcher.submit(_message(offset, key))
    gates.open(2)
    gates.open(1)
    await _settle()
    assert gates.commits == [], "committed past offset 0, which has not finished"
    gates.open(0)
    await dispatcher.drain()
    assert gates.commits[-1] == (("t", 0), 3), f"expected a commit up to 3: {gates.commits}"


async def test_records_of_one_key_wait_for_each_other() -> None:
    gates = Gates()
    dispatcher = KeyedDispatcher(gates.handle, gates.commit, max_in_flight=8)
    await dispatcher.submit(_message(0, "same"))
    await dispatcher.submit(_message(1, "same"))
    await dispatcher.submit(_message(2, "other"))
    await _settle()
    assert sorted(gates.started) == [0, 2], f"offset 1 overtook its key: {gates.started}"
    gates.open(0)
    await _settle()
    assert 1 in gates.started, "offset 1 did not start after offset 0 finished"
    gates.open(1)
    gates.open(2)
    await dispatcher.drain()


async def test_submit_waits_while_the_in_flight_limit_is_reached() -> None:
    gates = Gates()
    dispatcher = KeyedDispatcher(gates.handle, gates.commit, max_in_flight=2)
    await dispatcher.submit(_message(0, "a"))
    await dispatcher.submit(_message(1, "b"))
    third = asyncio.create_task(dispatcher.submit(_message(2, "c")))
    await _settle()
    assert not third.done(), "a third record was accepted beyond max_in_flight=2"
    gates.open(0)
    await asyncio.wait_for(third, 1)
    gates.open(1)
    gates.open(2)
    await dispatcher.drain()


async def test_a_failing_record_is_retried_in_place_until_it_succeeds() -> None:
    attempts: list[int] = []
    commits: list[tuple[Partition, int]] = []

    async def flaky(message: BusMessage) -> None:
        attempts.append(message.offset)
        if len(attempts) < 3:
            raise ConnectionError("broker unreachable")

    async def commit(partition: Partition, offset: int) -> None:
        commits.append((partition, offset))

    dispatcher = KeyedDispatcher(flaky, commit, max_in_flight=4, retry_delay_s=0.001)
    await dispatcher.submit(_message(0, "a"))
    await dispatcher.drain()
    assert attempts == [0, 0, 0], f"the record should be retried until done: {attempts}"
    assert commits == [(("t", 0), 1)], f"commit only after success: {commits}"


async def test_a_draining_dispatcher_refuses_new_records() -> None:
    gates = Gates()
    dispatcher = KeyedDispatcher(gates.handle, gates.commit, max_in_flight=4)
    await dispatcher.drain()
    with pytest.raises(DispatcherClosed):
        await dispatcher.submit(_message(0, "a"))
