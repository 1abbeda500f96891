"""Kafka transactions for consume-transform-produce (the `kafka_transactions` setting).

Everything a handler publishes while handling one record is buffered, then sent in one
transaction together with that record's consumed offset: either the outputs and the
offset commit both happen, or neither does. Consumers read with `read_committed`, so
an aborted attempt's outputs are never seen. Records of one partition are then handled
one at a time (the offset committed with a transaction must be the next one to read).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer, TopicPartition

from shared.bus.base import BusMessage, Handler

AfterCommit = Callable[[], Awaitable[None]]


@dataclass
class _Scope:
    sends: list[tuple[str, bytes, str, Mapping[str, str]]] = field(default_factory=list)
    after_commit: list[AfterCommit] = field(default_factory=list)


_scope: ContextVar[_Scope | None] = ContextVar("conduit_transaction_scope", default=None)


async def when_durable(action: AfterCommit) -> None:
    """Run `action` once what was published so far is durable: now, or, inside a
    transactional handler, right after its transaction commits."""
    scope = _scope.get()
    if scope is None:
        await action()
    else:
        scope.after_commit.append(action)


class TransactionalPublisher:
    """Example: `KafkaBus(..., transactional=True)` wraps every handler with `wrap`."""

    def __init__(self, bootstrap_servers: str, *, transactional_id: str) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers, transactional_id=transactional_id
        )
        # One producer has one open transaction at a time.
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    def buffer(self, topic: str, value: bytes, key: str, headers: Mapping[str, str]) -> bool:
        """Keep a publish for the current record's transaction; False outside a handler."""
        scope = _scope.get()
        if scope is None:
            return False
        scope.sends.append((topic, value, key, headers))
        return True

    def wrap(self, handler: Handler, group: str) -> Handler:
        async def in_transaction(message: BusMessage) -> None:
            scope = _Scope()
            token = _scope.set(scope)
            try:
                await handler(message)
            finally:
                _scope.reset(token)
            consumed = {TopicPartition(message.topic, message.partition): message.offset + 1}
            async with self._lock, self._producer.transaction():
                for topic, value, key, headers in scope.sends:
                    await self._producer.send(
                        topic,
                        value,
                        key=key.encode(),
                        headers=[(k, v.encode()) for k, v in headers.items()],
                    )
                await self._producer.send_offsets_to_transaction(consumed, group)
            for action in scope.after_commit:
                await action()

        return in_transaction
