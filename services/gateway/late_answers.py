"""Answers that arrive after the caller's ask has returned, added to the conversation.

A parked request (202, waiting for an approval) or one handed to a person is answered
later, on the responses topic, under the same request id. When the gateway hands such a
response back, it marks the request as awaiting in the memory store's task state, with
the replies the conversation already shows. `LateAnswers` consumes the responses topic in
one consumer group shared by every gateway replica: responses are keyed by session, so one
replica owns each conversation's partition, and each later reply of an awaiting request is
appended to its session's history once. A request that reached its answer stops awaiting.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from shared.bus import BusMessage
from shared.contracts import Response, Turn
from shared.memory import MemoryStore, TaskStateConflict

log = logging.getLogger(__name__)

GROUP = "gateway-history"
# A conflict means another writer (a redelivery on a replica taking over) got there first.
WRITE_ATTEMPTS = 3


def customer_reply(response: Response) -> str:
    """What the customer is shown of a response: its answer, handoff or pending message."""
    outcome = response.WhichOneof("outcome")
    if outcome == "answer":
        return response.answer.text
    if outcome == "handoff":
        return response.handoff.message
    if outcome == "pending":
        return response.pending.message
    return ""


def awaiting_key(request_id: str) -> str:
    return f"awaiting-answer:{request_id}"


# Letters only: task state is redacted on its way in, and a run of digits could pass for a
# phone number.
_LETTERS_FOR_DIGITS = str.maketrans("0123456789", "ghijklmnop")


def _fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16].translate(_LETTERS_FOR_DIGITS)


@dataclass(frozen=True)
class Awaiting:
    """The task state of a request whose answer may still come: the replies shown so far."""

    session_id: str
    shown: tuple[str, ...]
    answered: bool

    @classmethod
    def from_document(cls, document: dict[str, object]) -> Awaiting:
        shown = document.get("shown", [])
        return cls(
            session_id=str(document.get("session_id", "")),
            shown=tuple(str(s) for s in shown) if isinstance(shown, list) else (),
            answered=bool(document.get("answered", False)),
        )

    def document(self) -> dict[str, object]:
        return {"session_id": self.session_id, "shown": list(self.shown), "answered": self.answered}


def awaits_more(response: Response) -> bool:
    """Whether a response the caller got may be followed by another for the same request."""
    return response.WhichOneof("outcome") in ("pending", "handoff")


async def mark_awaiting(memory: MemoryStore, response: Response, shown_reply: str) -> None:
    """Record that `response`'s request may still be answered, `shown_reply` already shown."""
    envelope = response.envelope
    state = Awaiting(envelope.session_id, (_fingerprint(shown_reply),), answered=False)
    key = awaiting_key(envelope.request_id)
    for _ in range(WRITE_ATTEMPTS):
        current = await memory.task_state(envelope.tenant_id, key)
        if current is not None:
            merged = Awaiting.from_document(current.document)
            if state.shown[0] in merged.shown:
                return
            state = Awaiting(merged.session_id, (*merged.shown, *state.shown), merged.answered)
        try:
            await memory.put_task_state(
                envelope.tenant_id,
                key,
                state.document(),
                expected_version=0 if current is None else current.version,
            )
            return
        except TaskStateConflict:
            continue
    log.warning("request %s: its awaiting state kept changing", envelope.request_id)


class LateAnswers:
    """The handler of the shared responses consumer. Example:

    >>> late = LateAnswers(memory)
    >>> bus.subscribe([topics.responses], group=GROUP, handler=late.on_response)  # doctest: +SKIP

    A store that is down raises, so the bus delivers the response again later.
    """

    def __init__(self, memory: MemoryStore) -> None:
        self._memory = memory

    async def on_response(self, message: BusMessage) -> None:
        try:
            response = Response.FromString(message.value)
        except DecodeError:
            log.warning("responses topic: a record that is no Response (key %r)", message.key)
            return
        reply = customer_reply(response)
        if reply:
            await self._record(response, reply)

    async def _record(self, response: Response, reply: str) -> None:
        envelope = response.envelope
        key = awaiting_key(envelope.request_id)
        for _ in range(WRITE_ATTEMPTS):
            current = await self._memory.task_state(envelope.tenant_id, key)
            if current is None:
                return  # not awaited: the ask that sent it records its own reply
            state = Awaiting.from_document(current.document)
            fingerprint = _fingerprint(reply)
            if state.answered or fingerprint in state.shown:
                return
            # Appended before it is marked shown: a crash in between repeats a turn, never
            # loses one.
            await self._memory.append_turns(
                envelope.tenant_id,
                state.session_id,
                envelope.request_id,
                [Turn(role="assistant", content=reply)],
            )
            updated = Awaiting(
                state.session_id,
                (*state.shown, fingerprint),
                answered=response.HasField("answer"),
            )
            try:
                await self._memory.put_task_state(
                    envelope.tenant_id, key, updated.document(), expected_version=current.version
                )
                log.info(
                    "late %s of request %s added to its conversation",
                    response.WhichOneof("outcome"),
                    envelope.request_id,
                )
                return
            except TaskStateConflict:
                continue
        log.warning("request %s: its awaiting state kept changing", envelope.request_id)
