"""Building the one terminal `Response` of a request from its final step event."""

from __future__ import annotations

from shared.contracts import (
    Answer,
    Error,
    ErrorCode,
    Handoff,
    Response,
    StepEvent,
    derived_id,
)
from shared.workflow import Finish, Stop

HANDOFF_QUEUE = "human-support"
# A request handed over before the intent step read its wording (a rejected input).
DEFAULT_PRIORITY = "normal"
HANDOFF_MESSAGE = (
    "I have passed your request to a member of our support team, who will follow up shortly."
)


def base_response(event: StepEvent) -> Response:
    """The fields every response of `event` shares; the caller sets its outcome."""
    response = Response(
        intent=event.intent.intent,
        tool_exchanges=list(event.tool_exchanges),
        steps=list(event.steps),
    )
    response.envelope.CopyFrom(event.envelope)
    response.envelope.causation_id = event.envelope.event_id
    response.envelope.event_id = derived_id(event.envelope.event_id, "response")
    return response


def finish_response(event: StepEvent, finish: Finish) -> Response:
    response = base_response(event)
    if finish.kind == "respond":
        output = event.model_output
        response.answer.CopyFrom(
            Answer(
                text=output.text,
                sources=list(output.sources),
                produced_by=event.output_guard.answered_by,
            )
        )
    else:
        findings = "; ".join(event.output_guard.findings)
        reason = f"{finish.reason}: {findings}" if findings else finish.reason
        response.handoff.CopyFrom(
            Handoff(
                reason=reason,
                queue=HANDOFF_QUEUE,
                message=HANDOFF_MESSAGE,
                priority=event.intent.priority or DEFAULT_PRIORITY,
                sentiment=event.intent.sentiment,
                urgency=event.intent.urgency,
            )
        )
    return response


def error_response(
    event: StepEvent, code: ErrorCode, message: str, *, service: str, step: str
) -> Response:
    response = base_response(event)
    response.error.CopyFrom(Error(code=code, message=message, service=service, step=step))
    return response


def stop_response(event: StepEvent, stop: Stop, *, service: str) -> Response:
    return error_response(
        event, stop.code, stop.message, service=service, step=event.envelope.workflow.step
    )
