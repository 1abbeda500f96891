"""Asking conduit a question over any bus: publish to the ingest topic, await the response.

Used by the CLI and the embedded runner (and the gateway later): one request id from
ingest to answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from opentelemetry.trace import SpanKind

from shared.bus import Bus, BusMessage, Topics
from shared.bus.base import Listener
from shared.config import ConduitSettings
from shared.contracts import (
    DocumentEvent,
    Response,
    StepEvent,
    StreamChunk,
    Turn,
    UserRequest,
    new_envelope,
)
from shared.pii.requests import redact_at_edge
from shared.runtime.steps import headers_for
from shared.security import sign_principal
from shared.stream_completion import completing_chunk, shown_after
from shared.telemetry.tracing import tracer

StreamHandler = Callable[[StreamChunk], Awaitable[None]]


class ConduitClient:
    """Example:

    >>> client = ConduitClient(bus, Topics("conduit"))
    >>> await client.start()  # doctest: +SKIP
    >>> answer = await client.ask("Where is ORD-5001?", session_id="s1")  # doctest: +SKIP

    With `on_chunk`, `ask` also hands over the answer's pieces as they are written (see
    `shared.runtime.stream`); the returned `Response` is still the final word.
    """

    def __init__(
        self,
        bus: Bus,
        topics: Topics,
        *,
        principal_key: bytes | None = None,
        vault_key: X25519PublicKey | None = None,
    ) -> None:
        """`principal_key`: sign each request's principal (the gateway's role; services with
        `CONDUIT_PRINCIPAL_KEY` set refuse unsigned ones). `vault_key`: the PII vault's
        public key (`CONDUIT_PII_VAULT_PUBLIC_KEY`), to tokenise personal data reversibly."""
        self._bus = bus
        self._topics = topics
        self._principal_key = principal_key
        self._vault_key = vault_key
        self._waiting: dict[str, asyncio.Future[Response]] = {}
        self._streaming: dict[str, StreamHandler] = {}
        self._shown: dict[str, StreamChunk] = {}
        self._listeners: list[Listener] = []

    @classmethod
    def from_settings(cls, bus: Bus, settings: ConduitSettings) -> ConduitClient:
        """A client that signs and tokenises with the keys `settings` hold, if any."""
        return cls(
            bus,
            Topics(settings.topic_prefix),
            principal_key=settings.principal_key_bytes(),
            vault_key=settings.pii_vault_key(),
        )

    async def start(self) -> None:
        self._listeners = [
            await self._bus.listen(self._topics.responses, self._on_response),
            await self._bus.listen(self._topics.stream, self._on_chunk),
        ]

    async def close(self) -> None:
        for listener in self._listeners:
            await listener.close()
        self._listeners.clear()

    async def ask(
        self,
        text: str,
        *,
        session_id: str,
        tenant_id: str = "default",
        user_id: str = "anonymous",
        roles: Sequence[str] = ("customer",),
        history: Sequence[Turn] = (),
        timeout_s: float = 120.0,
        on_chunk: StreamHandler | None = None,
    ) -> Response:
        envelope = new_envelope(
            session_id=session_id,
            tenant_id=tenant_id,
            user_id=user_id,
            roles=roles,
            timeout_s=timeout_s,
        )
        event = StepEvent(envelope=envelope, request=UserRequest(text=text, history=history))
        return await self.submit(event, timeout_s=timeout_s, on_chunk=on_chunk)

    async def submit(
        self,
        event: StepEvent,
        *,
        timeout_s: float = 120.0,
        on_chunk: StreamHandler | None = None,
        to_service: str | None = None,
    ) -> Response:
        """Publish a prepared request event and wait for its terminal response.

        The request's personal data is replaced with placeholders or vault tokens first
        (recorded on it), so the ingest topic never holds it. With `to_service`, the event
        starts at the workflow position it carries, on that service's step topic (an
        internal request such as a history summary), instead of at triage."""
        await asyncio.to_thread(
            redact_at_edge,
            event.request,
            tenant_id=event.envelope.tenant_id,
            vault_key=self._vault_key,
        )
        if self._principal_key is not None:
            sign_principal(event.envelope, self._principal_key)
        with tracer().start_as_current_span(
            "conduit ask",
            kind=SpanKind.PRODUCER,
            attributes={
                "conduit.request_id": event.envelope.request_id,
                "conduit.tenant_id": event.envelope.tenant_id,
            },
        ):
            topic = self._topics.ingest if to_service is None else self._topics.step(to_service)
            return await self._publish_and_wait(event, timeout_s, on_chunk, topic)

    async def _publish_and_wait(
        self, event: StepEvent, timeout_s: float, on_chunk: StreamHandler | None, topic: str
    ) -> Response:
        request_id = event.envelope.request_id
        waiting = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = waiting
        if on_chunk is not None:
            self._streaming[request_id] = on_chunk
        try:
            await self._bus.publish(
                topic,
                event.SerializeToString(),
                key=event.envelope.session_id,
                headers=headers_for(event),
            )
            # A little past the request's own deadline, so its deadline error can arrive.
            return await asyncio.wait_for(waiting, timeout_s + 5)
        finally:
            self._waiting.pop(request_id, None)
            self._streaming.pop(request_id, None)
            self._shown.pop(request_id, None)

    async def publish_document(self, document: DocumentEvent) -> None:
        await self._bus.publish(
            self._topics.documents,
            document.SerializeToString(),
            key=f"{document.tenant_id}/{document.document_id}",
            headers={"content-type": "application/x-protobuf; type=conduit.v1.DocumentEvent"},
        )

    async def _on_response(self, message: BusMessage) -> None:
        response = Response()
        response.ParseFromString(message.value)
        request_id = response.envelope.request_id
        waiting = self._waiting.get(request_id)
        if waiting is None or waiting.done():
            return
        shown = self._shown.pop(request_id, None)
        handler = self._streaming.get(request_id)
        if handler is not None and response.HasField("answer"):
            completion = completing_chunk(shown, response)
            if completion is not None:
                await handler(completion)
        waiting.set_result(response)

    async def _on_chunk(self, message: BusMessage) -> None:
        chunk = StreamChunk.FromString(message.value)
        handler = self._streaming.get(chunk.request_id)
        if handler is None:
            return
        self._shown[chunk.request_id] = shown_after(self._shown.get(chunk.request_id), chunk)
        await handler(chunk)
