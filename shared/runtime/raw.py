"""Running a raw consumer: size check and decoding, with dead letters for bad records."""

from __future__ import annotations

import logging
from typing import Any

from shared.bus import Bus, BusMessage, Topics
from shared.config import ConduitSettings
from shared.runtime.deadletter import dead_letter
from shared.runtime.service import RawConsumer

log = logging.getLogger(__name__)


class RawRunner:
    """Bus handler around a `RawConsumer`; a malformed record never stops the consumer."""

    def __init__(
        self, consumer: RawConsumer[Any], *, service: str, bus: Bus, settings: ConduitSettings
    ) -> None:
        self._consumer = consumer
        self._service = service
        self._bus = bus
        self._topics = Topics(settings.topic_prefix)
        self._max_bytes = settings.max_event_bytes

    async def __call__(self, message: BusMessage) -> None:
        size = len(message.value)
        if size > self._max_bytes:
            await self._reject(message, f"oversize record: {size} bytes > {self._max_bytes}")
            return
        try:
            payload = self._consumer.decode(message.value)
        except Exception as exc:
            await self._reject(message, f"undecodable record: {type(exc).__name__}: {exc}")
            return
        await self._consumer.handle(payload)

    async def _reject(self, message: BusMessage, reason: str) -> None:
        log.warning(
            "%s.%s: dead-lettering %s/%s@%s: %s",
            self._service,
            self._consumer.name,
            message.topic,
            message.partition,
            message.offset,
            reason,
        )
        await dead_letter(
            self._bus, self._topics, message, service=self._service, reason=reason, attempts=1
        )
