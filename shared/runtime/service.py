"""What a service is to the runtime: a step handler plus optional raw consumers.

The contract every service follows:
- `handle(event, call)` fills in the service's part of the `StepEvent` in place and
  returns; routing, limits, retries, dead letters and publishing are the runtime's.
- Expected failures raise a `StepError` subclass; anything else is treated as transient
  and retried, then dead-lettered.
- `warm_up()` loads heavy resources (models, indexes) once, before consuming;
  `open()` connects to the systems the service needs, and `close()` lets go of them
  after consuming has stopped.
- A service may run only its raw consumers (`serves_steps=False`), so that, say,
  document ingestion scales apart from queries.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from shared.bus import Bus, Topics
from shared.contracts import StepEvent
from shared.runtime.audit import AuditLog
from shared.runtime.stream import DraftStream

Payload = TypeVar("Payload")


async def _nothing() -> None:
    return None


@dataclass(frozen=True, kw_only=True)
class StepCall:
    """The workflow step being executed, with its declared parameters.

    `stream`, when the runtime provides one, is where the step may write its answer as it
    is generated (unchecked drafts, which the output guardrail releases to people
    watching once they pass; the step event stays the result). `audit`, when
    provided, is where the step records what it did on the requester's behalf (tool calls,
    guardrail decisions, refusals); without one nothing is recorded.
    """

    workflow: str
    step_id: str
    params: Mapping[str, Any] = field(default_factory=dict)
    stream: DraftStream | None = None
    audit: AuditLog | None = None
    # Steps the workflow's `max_steps` still allows after this one (None: no limit known).
    steps_left: int | None = None


StepHandler = Callable[[StepEvent, StepCall], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class RawConsumer(Generic[Payload]):
    """A consumer of non-step events, such as documents for the retrieval index.

    `decode` raises (any exception) on a malformed payload: the runtime then
    dead-letters the record with the reason and moves on; `handle` gets decoded payloads.
    When `handle` raises `RecordRejected` the record is dead-lettered at once; any other
    exception is retried with backoff (in order: later records of the partition wait),
    and dead-lettered when the attempts run out.
    """

    name: str
    topic: Callable[[Topics], str]
    decode: Callable[[bytes], Payload]
    handle: Callable[[Payload], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class StepService:
    name: str
    handle: StepHandler
    warm_up: Callable[[], None] = lambda: None
    open: Callable[[], Awaitable[None]] = _nothing
    close: Callable[[], Awaitable[None]] = _nothing
    serves_steps: bool = True
    consumes_ingest: bool = False
    raw_consumers: tuple[RawConsumer[Any], ...] = ()
    # For a service that publishes beyond its step results (the approvals desk): the
    # host hands it its bus before `open`.
    bind: Callable[[Bus], None] = lambda _bus: None
