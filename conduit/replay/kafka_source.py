"""Recordings read off the topics: ingest, every step topic, audit and responses.

Each topic is read up to its end offsets when the read starts (`conduit.deadletters.
read_topic`), so the read terminates while services keep writing. A request still in
flight when its topics are read has the steps and response written so far.

Example::

    recordings = await read_recordings_from_kafka(
        "127.0.0.1:9092", Topics("conduit"), Selection(request_ids=frozenset({"r1"}))
    )
"""

from __future__ import annotations

from contextlib import aclosing

from google.protobuf.message import Message

from conduit.deadletters import ProtoMessage, parsed_or_none, read_topic
from conduit.replay.recording import Recording, Selection, assemble
from services.catalog import SERVICE_NAMES
from shared.bus import Topics
from shared.contracts import AuditRecord, Response, StepEvent


async def read_recordings_from_kafka(
    bootstrap: str, topics: Topics, selection: Selection
) -> list[Recording]:
    requests = await _messages(bootstrap, topics.ingest, StepEvent)
    wanted = {r.envelope.request_id for r in requests if selection.matches(r)}
    step_events: list[StepEvent] = []
    for service in SERVICE_NAMES:
        events = await _messages(bootstrap, topics.step(service), StepEvent)
        step_events += [e for e in events if e.envelope.request_id in wanted]
    return assemble(
        requests,
        responses=await _messages(bootstrap, topics.responses, Response),
        step_events=step_events,
        audit=await _messages(bootstrap, topics.audit, AuditRecord),
        selection=selection,
    )


async def _messages(bootstrap: str, topic: str, kind: type[ProtoMessage]) -> list[ProtoMessage]:
    """Every record of `topic` that parses as `kind` and names a request."""
    found: list[ProtoMessage] = []
    async with aclosing(read_topic(bootstrap, topic)) as records:
        async for record in records:
            message = parsed_or_none(kind(), record.value)
            if message is not None and _request_id(message):
                found.append(message)
    return found


def _request_id(message: Message) -> str:
    """The request a message belongs to; "" for bytes that merely parsed (protobuf parses
    many byte strings without error)."""
    if isinstance(message, AuditRecord):
        return message.request_id
    if isinstance(message, StepEvent | Response):
        return message.envelope.request_id
    return ""
