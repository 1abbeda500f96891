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

from collections.abc import Callable
from contextlib import aclosing
from typing import TypeVar

from conduit.deadletters import parsed_or_none, read_topic
from conduit.replay.recording import Recording, Selection, assemble
from services.catalog import SERVICE_NAMES
from shared.bus import Topics
from shared.contracts import AuditRecord, Response, StepEvent

# Producers' clocks may disagree by this much about when a request's events were written.
SINCE_SLACK_MS = 60_000
_Message = TypeVar("_Message", StepEvent, Response, AuditRecord)


async def read_recordings_from_kafka(
    bootstrap: str, topics: Topics, selection: Selection
) -> list[Recording]:
    """The selected requests' recordings. With `selection.since_ms`, each topic is read from
    the first record stamped `SINCE_SLACK_MS` before it (`offsets_for_times`): a request's
    events are written after it was created, give or take the producers' clocks."""
    since = None if selection.since_ms is None else selection.since_ms - SINCE_SLACK_MS
    requests = await _messages(bootstrap, topics.ingest, StepEvent, since, selection.matches)
    wanted = {r.envelope.request_id for r in requests}

    def belongs(message: StepEvent | Response | AuditRecord) -> bool:
        return _request_id(message) in wanted

    step_events: list[StepEvent] = []
    for service in SERVICE_NAMES:
        step_events += await _messages(bootstrap, topics.step(service), StepEvent, since, belongs)
    return assemble(
        requests,
        responses=await _messages(bootstrap, topics.responses, Response, since, belongs),
        step_events=step_events,
        audit=await _messages(bootstrap, topics.audit, AuditRecord, since, belongs),
    )


async def _messages(
    bootstrap: str,
    topic: str,
    kind: type[_Message],
    since_unix_ms: int | None,
    keep: Callable[[_Message], bool],
) -> list[_Message]:
    """The records of `topic` that parse as `kind`, name a request and are to be kept."""
    found: list[_Message] = []
    async with aclosing(read_topic(bootstrap, topic, since_unix_ms=since_unix_ms)) as records:
        async for record in records:
            message = parsed_or_none(kind(), record.value)
            if message is not None and _request_id(message) and keep(message):
                found.append(message)
    return found


def _request_id(message: StepEvent | Response | AuditRecord) -> str:
    """The request a message belongs to; "" for bytes that merely parsed (protobuf parses
    many byte strings without error)."""
    if isinstance(message, AuditRecord):
        return message.request_id
    return message.envelope.request_id
