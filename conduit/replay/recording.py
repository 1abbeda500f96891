"""A recorded request: what the topics hold about it, and the JSONL file it can be kept in.

One `Recording` per request: the request as it entered (the ingest topic), the step events
it went through (the step topics), its audit records (guardrail decisions, tool calls) and
its final response. The export file holds one recording per line, each message as
protobuf JSON, so a replay needs no cluster.

Example::

    write_recordings(Path("export.jsonl"), recordings)
    assert read_recordings(Path("export.jsonl")) == recordings
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from google.protobuf import json_format

from shared.contracts import AuditRecord, Response, StepEvent, ToolExchange

_Item = TypeVar("_Item", StepEvent, AuditRecord)


@dataclass(frozen=True)
class Recording:
    """Everything recorded about one request; `response` is None while it has none."""

    request: StepEvent
    response: Response | None = None
    step_events: tuple[StepEvent, ...] = ()
    audit: tuple[AuditRecord, ...] = ()

    @property
    def request_id(self) -> str:
        return self.request.envelope.request_id

    def tool_exchanges(self) -> list[ToolExchange]:
        """Every tool call and its result, in the order they ran."""
        if self.response is not None:
            return list(self.response.tool_exchanges)
        latest = max(self.step_events, key=lambda e: len(e.tool_exchanges), default=None)
        return list(latest.tool_exchanges) if latest is not None else []


@dataclass(frozen=True)
class Selection:
    """Which recorded requests to take; every given criterion must hold. Times are the
    request's creation (ms since the epoch), `until_ms` excluded."""

    request_ids: frozenset[str] = field(default_factory=frozenset)
    tenant_id: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None

    def matches(self, request: StepEvent) -> bool:
        envelope = request.envelope
        created = envelope.created_unix_ms
        return (
            (not self.request_ids or envelope.request_id in self.request_ids)
            and (self.tenant_id is None or envelope.tenant_id == self.tenant_id)
            and (self.since_ms is None or created >= self.since_ms)
            and (self.until_ms is None or created < self.until_ms)
        )


def assemble(
    requests: Iterable[StepEvent],
    *,
    responses: Iterable[Response] = (),
    step_events: Iterable[StepEvent] = (),
    audit: Iterable[AuditRecord] = (),
    selection: Selection | None = None,
) -> list[Recording]:
    """Group what the topics hold by request: one recording per selected request, oldest
    first. Redelivered events (same event or audit id) count once. A request's response is
    the pipeline's outcome: its first one that is not `pending` (a person's later reply to
    a handoff is no outcome of the pipeline), else the pending one."""
    chosen = selection or Selection()
    by_request: dict[str, StepEvent] = {}
    for request in requests:
        if chosen.matches(request):
            by_request.setdefault(request.envelope.request_id, request)
    finals: dict[str, Response] = {}
    for response in responses:
        request_id = response.envelope.request_id
        if request_id in by_request and (
            request_id not in finals or finals[request_id].HasField("pending")
        ):
            finals[request_id] = response
    steps = _by_request(
        step_events, by_request, lambda e: (e.envelope.request_id, e.envelope.event_id)
    )
    audits = _by_request(audit, by_request, lambda r: (r.request_id, r.audit_id))
    ordered = sorted(by_request.values(), key=lambda r: r.envelope.created_unix_ms)
    return [
        Recording(
            request=request,
            response=finals.get(request.envelope.request_id),
            step_events=tuple(steps.get(request.envelope.request_id, [])),
            audit=tuple(audits.get(request.envelope.request_id, [])),
        )
        for request in ordered
    ]


def _by_request(
    items: Iterable[_Item],
    wanted: dict[str, StepEvent],
    identify: Callable[[_Item], tuple[str, str]],
) -> dict[str, list[_Item]]:
    """`items` of the wanted requests, each (request id, item id) pair once."""
    seen: set[str] = set()
    grouped: dict[str, list[_Item]] = {}
    for item in items:
        request_id, item_id = identify(item)
        if request_id in wanted and item_id not in seen:
            seen.add(item_id)
            grouped.setdefault(request_id, []).append(item)
    return grouped


def write_recordings(path: Path, recordings: Sequence[Recording]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for recording in recordings:
            out.write(json.dumps(_to_json(recording), sort_keys=True) + "\n")


def read_recordings(path: Path) -> list[Recording]:
    """The recordings `write_recordings` wrote; a bad line raises `ValueError` naming it."""
    recordings = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                recordings.append(_from_json(json.loads(line)))
            except (ValueError, KeyError, TypeError, json_format.ParseError) as exc:
                raise ValueError(f"{path}:{number}: not a recording: {exc}") from exc
    return recordings


def _to_json(recording: Recording) -> dict[str, Any]:
    def as_dict(message: Any) -> dict[str, Any]:
        return json_format.MessageToDict(message, preserving_proto_field_name=True)

    return {
        "request": as_dict(recording.request),
        "response": as_dict(recording.response) if recording.response is not None else None,
        "step_events": [as_dict(e) for e in recording.step_events],
        "audit": [as_dict(r) for r in recording.audit],
    }


def _from_json(raw: dict[str, Any]) -> Recording:
    response = raw.get("response")
    return Recording(
        request=json_format.ParseDict(raw["request"], StepEvent()),
        response=json_format.ParseDict(response, Response()) if response is not None else None,
        step_events=tuple(json_format.ParseDict(e, StepEvent()) for e in raw["step_events"]),
        audit=tuple(json_format.ParseDict(r, AuditRecord()) for r in raw["audit"]),
    )
