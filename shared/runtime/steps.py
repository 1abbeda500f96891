"""The path every step event takes inside a service, whatever the bus:

decode → locate the step → check limits → handle (with retries) → route → publish.

Undecodable or oversize events become dead letters; typed failures and exhausted
limits become error responses; the message is consumed only after its outcome is
published, so a crash anywhere means redelivery, never loss.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from typing import Literal

from google.protobuf.message import DecodeError
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.util.types import AttributeValue

from shared.bus import Bus, BusMessage, Topics
from shared.bus.transactions import when_durable
from shared.config import ConduitSettings
from shared.contracts import (
    ApprovalRequest,
    ErrorCode,
    HandoffTicket,
    ParkedRequest,
    Response,
    StepEvent,
    StepRecord,
    derived_id,
    now_ms,
)
from shared.runtime.approvals import APPROVAL, AwaitingApproval, pending_response
from shared.runtime.audit import AUTHORIZATION, AuditLog
from shared.runtime.deadletter import REPLAYED_FROM, dead_letter
from shared.runtime.dedupe import ProcessedEvents
from shared.runtime.errors import DeadlineExceeded, DependencyUnavailable, StepError
from shared.runtime.responses import error_response, finish_response, stop_response
from shared.runtime.retry import attempt_of, backoff_s, schedule_retry
from shared.runtime.service import StepCall, StepService
from shared.runtime.stream import DraftStream
from shared.security import verify_principal
from shared.telemetry.metrics import EVENTS, HANDOFFS, IN_FLIGHT, QUEUE_WAIT, STEP_SECONDS
from shared.telemetry.tracing import tracer
from shared.telemetry.versions import run_attributes, version_attributes
from shared.workflow import Continue, Finish, Stop, WorkflowRegistry, advance, check_limits, locate

log = logging.getLogger(__name__)

_RESULTS = {"handled": "processed", "ended": "failed", "retrying": "retried"}
_UNVOUCHED = "the principal is not signed by the gateway, or was changed after signing"

EVENT_TYPE = "application/x-protobuf; type=conduit.v1.StepEvent"
RESPONSE_TYPE = "application/x-protobuf; type=conduit.v1.Response"
PARKED_TYPE = "application/x-protobuf; type=conduit.v1.ParkedRequest"
HANDOFF_TYPE = "application/x-protobuf; type=conduit.v1.HandoffTicket"


@dataclass(frozen=True)
class _Malformed(Exception):
    reason: str


def headers_for(event: StepEvent, content_type: str = EVENT_TYPE) -> dict[str, str]:
    envelope = event.envelope
    return {
        "content-type": content_type,
        "conduit-event-id": envelope.event_id,
        "conduit-request-id": envelope.request_id,
        "conduit-tenant-id": envelope.tenant_id,
    }


class StepRunner:
    """Runs one service's handler on step events. Example:

    >>> runner = StepRunner(service, bus=bus, registry=registry, settings=settings,
    ...                     processed=ProcessedEvents(path))
    >>> bus.subscribe([topics.step("intent")], group="intent", handler=runner)  # doctest: +SKIP
    """

    def __init__(
        self,
        service: StepService,
        *,
        bus: Bus,
        registry: WorkflowRegistry,
        settings: ConduitSettings,
        processed: ProcessedEvents,
    ) -> None:
        self._service = service
        self._processed = processed
        self._bus = bus
        self._registry = registry
        self._settings = settings
        self._topics = Topics(settings.topic_prefix)
        self._rng = random.Random()

    async def __call__(self, message: BusMessage) -> None:
        if message.timestamp_ms is not None:
            # Clocks of producer and consumer hosts differ a little: never a negative wait.
            waited_s = max(0.0, time.time() - message.timestamp_ms / 1000)
            QUEUE_WAIT.record(waited_s, {"service": self._service.name, "topic": message.topic})
        try:
            event = self._decode(message)
        except _Malformed as malformed:
            log.warning(
                "%s: dead-lettering %s/%s@%s: %s",
                self._service.name,
                message.topic,
                message.partition,
                message.offset,
                malformed.reason,
            )
            await dead_letter(
                self._bus,
                self._topics,
                message,
                service=self._service.name,
                reason=malformed.reason,
                attempts=1,
            )
            EVENTS.add(1, {"service": self._service.name, "result": "dead_lettered"})
            return
        envelope = event.envelope
        attributes: dict[str, AttributeValue] = {
            "conduit.service": self._service.name,
            "conduit.request_id": envelope.request_id,
            "conduit.tenant_id": envelope.tenant_id,
            "conduit.event_id": envelope.event_id,
            "messaging.system": "kafka",
            "messaging.destination.name": message.topic,
            "messaging.kafka.partition": message.partition,
            "messaging.kafka.offset": message.offset,
        }
        with tracer().start_as_current_span(
            self._service.name, kind=SpanKind.CONSUMER, attributes=attributes
        ) as span:
            await self._once(event, message)
            # After the handler: the prompt version and model it chose are on the envelope
            # (its workflow position may already point at the next step's workflow).
            span.set_attributes(run_attributes(event.envelope.versions))

    async def _once(self, event: StepEvent, message: BusMessage) -> None:
        """Process `event` unless this service already handled it."""
        event_id = event.envelope.event_id
        if replayed_from := message.headers.get(REPLAYED_FROM):
            event_id = f"{event_id}@replay:{replayed_from}"
        if await self._processed.seen(event_id):
            log.info(
                "%s: skipping already handled event %s of request %s",
                self._service.name,
                event_id,
                event.envelope.request_id,
            )
            trace.get_current_span().set_attribute("conduit.duplicate", value=True)
            EVENTS.add(1, {"service": self._service.name, "result": "duplicate"})
            return
        in_flight = {"service": self._service.name}
        IN_FLIGHT.add(1, in_flight)
        try:
            finished = await self._process(event, message)
        finally:
            IN_FLIGHT.add(-1, in_flight)
        if finished:
            await when_durable(lambda: self._processed.record(event_id))

    def _decode(self, message: BusMessage) -> StepEvent:
        size = len(message.value)
        if size > self._settings.max_event_bytes:
            raise _Malformed(f"oversize event: {size} bytes > {self._settings.max_event_bytes}")
        event = StepEvent()
        try:
            event.ParseFromString(message.value)
        except DecodeError as exc:
            raise _Malformed(f"undecodable StepEvent: {exc}") from exc
        envelope = event.envelope
        if not (envelope.request_id and envelope.session_id and envelope.event_id):
            raise _Malformed("malformed StepEvent: envelope lacks request, session or event id")
        return event

    async def _process(self, event: StepEvent, message: BusMessage) -> bool:
        """Handle and route `event`; False when it was scheduled for a retry instead."""
        located = locate(self._registry, event.envelope.workflow)
        if isinstance(located, Stop):
            await self._stop(event, located)
            return True
        if located.step.service != self._service.name:
            await self._stop(
                event,
                Stop(
                    ErrorCode.ERROR_CODE_INTERNAL,
                    f"misrouted event: step {located.workflow.name}.{located.step_id} belongs to "
                    f"{located.step.service}, not {self._service.name}",
                ),
            )
            return True
        if event.envelope.workflow.step == "":
            event.envelope.workflow.CopyFrom(located.position(0))
        elif not event.envelope.workflow.content_hash:
            # Positioned by hand (a resumed handoff): the definition that runs it is this one.
            event.envelope.workflow.content_hash = located.workflow.content_hash
        span = trace.get_current_span()
        span.update_name(f"{self._service.name} {located.workflow.name}.{located.step_id}")
        span.set_attributes({**version_attributes(event.envelope), "conduit.step": located.step_id})
        audit = AuditLog(
            self._bus,
            self._topics.audit,
            event.envelope,
            service=self._service.name,
            step=located.step_id,
        )
        if not self._vouched_for(event):
            await audit.record(AUTHORIZATION, "principal", "refused", detail=_UNVOUCHED)
            await self._stop(event, Stop(ErrorCode.ERROR_CODE_FORBIDDEN, _UNVOUCHED))
            return True
        limit = check_limits(event.envelope, located.workflow, now_ms())
        if limit is not None:
            await self._stop(event, limit)
            return True
        call = StepCall(
            workflow=located.workflow.name,
            step_id=located.step_id,
            params=located.step.params,
            stream=DraftStream(self._bus, self._topics.drafts, event.envelope, located.step_id),
            audit=audit,
            steps_left=located.workflow.limits.max_steps - event.envelope.workflow.steps_taken - 1,
        )
        started = time.perf_counter()
        outcome = await self._handle(event, call, message)
        STEP_SECONDS.record(
            time.perf_counter() - started,
            {
                "service": self._service.name,
                "workflow": call.workflow,
                "step": call.step_id,
                "outcome": outcome,
            },
        )
        EVENTS.add(1, {"service": self._service.name, "result": _RESULTS[outcome]})
        if outcome == "handled":
            await self._route(event)
        return outcome != "retrying"

    def _vouched_for(self, event: StepEvent) -> bool:
        """With a principal key configured, only principals signed with it are served."""
        key = self._settings.principal_key_bytes()
        return key is None or verify_principal(event.envelope, key)

    async def _handle(
        self, event: StepEvent, call: StepCall, message: BusMessage
    ) -> Literal["handled", "ended", "retrying"]:
        """Run the handler on a copy, so a failed attempt leaves no trace in `event`."""
        work = StepEvent()
        work.CopyFrom(event)
        attempt, attempts = attempt_of(message), self._settings.handler_attempts
        try:
            record = await self._run_handler(work, call)
        except AwaitingApproval as waiting:
            await self._park(event, waiting.request, call)
            return "ended"
        except StepError as failure:
            await self._fail(work, failure.code, failure.message, call)
            return "ended"
        except Exception as exc:
            log.exception(
                "%s: step %s failed (attempt %d/%d)",
                self._service.name,
                call.step_id,
                attempt,
                attempts,
            )
            reason = f"{type(exc).__name__}: {exc}"
            if attempt < attempts:
                delay_s = backoff_s(
                    attempt,
                    base_s=self._settings.retry_backoff_s,
                    jitter=self._settings.retry_jitter,
                    rng=self._rng,
                )
                trace.get_current_span().add_event(
                    "retry scheduled", {"attempt": attempt, "delay_s": delay_s, "reason": reason}
                )
                await schedule_retry(
                    self._bus,
                    self._topics,
                    message,
                    service=self._service.name,
                    delay_s=delay_s,
                    reason=reason,
                )
                return "retrying"
            trace.get_current_span().add_event(
                "dead-lettered", {"attempts": attempt, "reason": reason}
            )
            EVENTS.add(1, {"service": self._service.name, "result": "dead_lettered"})
            await dead_letter(
                self._bus,
                self._topics,
                message,
                service=self._service.name,
                reason=reason,
                attempts=attempt,
            )
            await self._fail(
                event,
                exc.code
                if isinstance(exc, DependencyUnavailable)
                else ErrorCode.ERROR_CODE_INTERNAL,
                f"{self._service.name} failed after {attempt} attempts: {reason}",
                call,
            )
            return "ended"
        work.steps.append(record)
        event.CopyFrom(work)
        return "handled"

    async def _run_handler(self, work: StepEvent, call: StepCall) -> StepRecord:
        started_wall_us = time.time_ns() // 1000
        started = time.perf_counter_ns()
        tokens_before = work.envelope.budget.tokens_used
        remaining_s = (work.envelope.deadline_unix_ms - now_ms()) / 1000
        try:
            async with asyncio.timeout(
                remaining_s if work.envelope.deadline_unix_ms else None
            ) as scope:
                await self._service.handle(work, call)
        except TimeoutError as exc:
            if scope.expired():
                raise DeadlineExceeded(f"deadline passed during step {call.step_id}") from exc
            raise
        return StepRecord(
            service=self._service.name,
            step=call.step_id,
            started_unix_us=started_wall_us,
            duration_us=(time.perf_counter_ns() - started) // 1000,
            tokens=work.envelope.budget.tokens_used - tokens_before,
            outcome="ok",
        )

    async def _park(self, event: StepEvent, request: ApprovalRequest, call: StepCall) -> None:
        """Park `event` as it arrived at this step until a person decides (approvals desk)."""
        parked = ParkedRequest(approval=request, event=event)
        await self._bus.publish(
            self._topics.approvals,
            parked.SerializeToString(),
            key=event.envelope.session_id,
            headers=headers_for(event, PARKED_TYPE),
        )
        if call.audit is not None:
            await call.audit.record(
                APPROVAL,
                request.tool,
                "requested",
                detail=request.arguments_json,
                idempotency_key=request.approval_id,
            )
        trace.get_current_span().add_event("parked for approval", {"tool": request.tool})
        await self._publish_response(pending_response(event, request))

    async def _fail(self, event: StepEvent, code: ErrorCode, message: str, call: StepCall) -> None:
        await self._publish_response(
            error_response(event, code, message, service=self._service.name, step=call.step_id)
        )

    async def _route(self, event: StepEvent) -> None:
        route = advance(self._registry, event, now_ms())
        if isinstance(route, Stop):
            await self._stop(event, route)
        elif isinstance(route, Finish):
            await self._finish(event, route)
        else:
            await self._forward(event, route)

    async def _forward(self, event: StepEvent, route: Continue) -> None:
        envelope = event.envelope
        envelope.causation_id = envelope.event_id
        envelope.event_id = derived_id(envelope.event_id, "next")
        envelope.workflow.CopyFrom(route.position(envelope.workflow.steps_taken + 1))
        await self._bus.publish(
            self._topics.step(route.step.service),
            event.SerializeToString(),
            key=envelope.session_id,
            headers=headers_for(event),
        )

    async def _finish(self, event: StepEvent, route: Finish) -> None:
        response = finish_response(event, route)
        if route.kind == "handoff":
            handoff = response.handoff
            HANDOFFS.add(
                1,
                {
                    "priority": handoff.priority,
                    "intent": event.intent.intent,
                    "workflow": event.envelope.workflow.name,
                },
            )
            span = trace.get_current_span()
            span.set_attribute("conduit.handoff.priority", handoff.priority)
            span.set_attribute("conduit.handoff.reason", handoff.reason)
            ticket = HandoffTicket(response=response, conversation=event)
            await self._bus.publish(
                self._topics.handoff,
                ticket.SerializeToString(),
                key=event.envelope.session_id,
                headers=headers_for(event, HANDOFF_TYPE),
            )
        await self._publish_response(response)

    async def _stop(self, event: StepEvent, stop: Stop) -> None:
        await self._publish_response(stop_response(event, stop, service=self._service.name))

    async def _publish_response(self, response: Response) -> None:
        envelope = response.envelope
        outcome = response.WhichOneof("outcome") or ""
        span = trace.get_current_span()
        span.set_attribute("conduit.outcome", outcome)
        if response.HasField("error"):
            span.set_attribute("conduit.error_code", ErrorCode.Name(response.error.code))
            span.set_status(StatusCode.ERROR, response.error.message)
        await self._bus.publish(
            self._topics.responses,
            response.SerializeToString(),
            key=envelope.session_id,
            headers={
                "content-type": RESPONSE_TYPE,
                "conduit-event-id": envelope.event_id,
                "conduit-request-id": envelope.request_id,
            },
        )
