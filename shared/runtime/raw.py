"""Running a raw consumer: size check, decoding and bounded retries, with dead letters for
records that cannot be taken."""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

from shared.bus import Bus, BusMessage, Topics
from shared.config import ConduitSettings
from shared.runtime.deadletter import dead_letter
from shared.runtime.errors import RecordRejected
from shared.runtime.retry import backoff_s
from shared.runtime.service import RawConsumer

log = logging.getLogger(__name__)


class RawRunner:
    """Bus handler around a `RawConsumer`; a malformed record never stops the consumer.

    A failing `handle` is retried in place, so the partition's order holds (a document's
    versions apply in the order published), with exponential backoff; after
    `handler_attempts` the record is dead-lettered with the last error, ready to replay.
    """

    def __init__(
        self, consumer: RawConsumer[Any], *, service: str, bus: Bus, settings: ConduitSettings
    ) -> None:
        self._consumer = consumer
        self._service = service
        self._bus = bus
        self._topics = Topics(settings.topic_prefix)
        self._max_bytes = settings.max_event_bytes
        self._attempts = settings.handler_attempts
        self._backoff_s = settings.retry_backoff_s
        self._jitter = settings.retry_jitter
        self._rng = random.Random()

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
        for attempt in range(1, self._attempts + 1):
            try:
                await self._consumer.handle(payload)
            except RecordRejected as exc:
                await self._reject(message, f"rejected: {exc}")
                return
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
                if attempt == self._attempts:
                    await self._reject(
                        message, f"failed after {attempt} attempts: {reason}", attempt
                    )
                    return
                delay_s = backoff_s(
                    attempt, base_s=self._backoff_s, jitter=self._jitter, rng=self._rng
                )
                log.warning(
                    "%s.%s: attempt %d/%d failed, retrying in %.2f s: %s",
                    self._service,
                    self._consumer.name,
                    attempt,
                    self._attempts,
                    delay_s,
                    reason,
                )
                await asyncio.sleep(delay_s)
            else:
                return

    async def _reject(self, message: BusMessage, reason: str, attempts: int = 1) -> None:
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
            self._bus,
            self._topics,
            message,
            service=self._service,
            reason=reason,
            attempts=attempts,
        )
