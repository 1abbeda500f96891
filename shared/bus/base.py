"""The bus contract every transport implements, and the message it delivers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, kw_only=True)
class BusMessage:
    """One delivered record: raw bytes plus Kafka-style coordinates."""

    topic: str
    value: bytes
    key: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    partition: int = 0
    offset: int = 0
    # When the record was produced (Kafka's CreateTime), in Unix milliseconds; None if unknown.
    timestamp_ms: int | None = None


Handler = Callable[[BusMessage], Awaitable[None]]


class Listener(Protocol):
    async def close(self) -> None: ...


class Bus(Protocol):
    """At-least-once delivery: a message counts as consumed only once `handler` returns.

    A handler that raises gets the same message again (after `redelivery_delay_s`),
    so handlers must turn permanent failures into events themselves.
    """

    def subscribe(self, topics: Sequence[str], *, group: str, handler: Handler) -> None: ...

    async def publish(
        self, topic: str, value: bytes, *, key: str, headers: Mapping[str, str]
    ) -> None: ...

    async def listen(self, topic: str, handler: Handler) -> Listener:
        """Deliver every message published to `topic` after this returns, outside any
        consumer group and without commits: how a client waits for its responses."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...
