"""`conduit handoff`: requests handed to a person, and answering them.

`list` reads the handoff topic (each ticket carries the whole conversation) and shows the
tickets nobody has answered yet. `reply REQUEST_ID "text"` resumes the request in the
`human_reply` workflow with the person's text as its answer: the output guardrail checks
it like any answer, and it goes out as the request's final response (same request id).
The resumed event is also kept on the replies topic, the record of who answered.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from conduit.deadletters import (
    kafka_command,
    one_line,
    parsed_or_none,
    render_table,
    still_open,
)
from shared.bus import Topics
from shared.config import ConduitSettings
from shared.contracts import (
    HandoffTicket,
    ModelOutput,
    StepEvent,
    WorkflowPosition,
    derived_id,
    now_ms,
)
from shared.runtime import make_bus
from shared.runtime.steps import headers_for

REPLY_WORKFLOW = "human_reply"
REPLY_STEP = "check_reply"
REPLY_SERVICE = "guardrail"
_PRIORITY_ORDER = {"urgent": 0, "high": 1, "normal": 2}


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    handoff = commands.add_parser("handoff", help="requests handed to a person (Kafka)")
    verbs = handoff.add_subparsers(dest="handoff_command", required=True)
    verbs.add_parser(
        "list", help="the handed-over requests nobody has answered, most urgent then oldest first"
    )
    reply = verbs.add_parser("reply", help="answer a handed-over request")
    reply.add_argument("request_id")
    reply.add_argument("text")
    reply.add_argument("--user", required=True, help="who answers (recorded)")


async def open_tickets(bootstrap: str, topics: Topics) -> list[HandoffTicket]:
    """Tickets on the handoff topic whose request has no reply yet, most urgent first, then
    oldest first."""

    def ticket(value: bytes | None) -> tuple[str, HandoffTicket] | None:
        handed_off = parsed_or_none(HandoffTicket(), value)
        return None if handed_off is None else (handed_off.response.envelope.request_id, handed_off)

    def answered(value: bytes | None) -> str | None:
        reply = parsed_or_none(StepEvent(), value)
        return None if reply is None else reply.envelope.request_id

    tickets = await still_open(
        bootstrap,
        opened_on=topics.handoff,
        closed_on=topics.handoff_replies,
        opening=ticket,
        closing=answered,
    )
    return sorted(
        tickets,
        key=lambda t: (
            _PRIORITY_ORDER.get(t.response.handoff.priority, len(_PRIORITY_ORDER)),
            t.response.envelope.created_unix_ms,
        ),
    )


def resumed_with_reply(ticket: HandoffTicket, text: str, *, user: str) -> StepEvent:
    """The ticket's conversation, resumed in `human_reply` with the person's answer."""
    event = StepEvent()
    event.CopyFrom(ticket.conversation)
    event.model_output.CopyFrom(ModelOutput(model=f"human:{user}", text=text))
    event.ClearField("output_guard")
    envelope = event.envelope
    envelope.causation_id = envelope.event_id
    envelope.event_id = derived_id(envelope.event_id, f"human-reply:{user}")
    if envelope.deadline_unix_ms:
        envelope.deadline_unix_ms = now_ms() + max(
            envelope.deadline_unix_ms - envelope.created_unix_ms, 0
        )
    envelope.workflow.CopyFrom(WorkflowPosition(name=REPLY_WORKFLOW, step=REPLY_STEP))
    return event


async def reply(settings: ConduitSettings, request_id: str, text: str, *, user: str) -> bool:
    """Resume `request_id` with the answer; False when no open ticket has that id."""
    topics = Topics(settings.topic_prefix)
    tickets = await open_tickets(settings.kafka_bootstrap, topics)
    ticket = next((t for t in tickets if t.response.envelope.request_id == request_id), None)
    if ticket is None:
        return False
    event = resumed_with_reply(ticket, text, user=user)
    bus = make_bus(settings, client_id="conduit-handoff")
    await bus.start()
    try:
        body, key = event.SerializeToString(), event.envelope.session_id
        await bus.publish(topics.step(REPLY_SERVICE), body, key=key, headers=headers_for(event))
        await bus.publish(topics.handoff_replies, body, key=key, headers=headers_for(event))
    finally:
        await bus.stop()
    return True


_COLUMNS = ["REQUEST", "TENANT", "PRIORITY", "SENTIMENT", "REASON", "MESSAGE"]


def render(tickets: list[HandoffTicket]) -> str:
    rows = [
        [
            one_line(t.response.envelope.request_id, 64),
            one_line(t.response.envelope.tenant_id, 40),
            one_line(t.response.handoff.priority, 8),
            f"{t.response.handoff.sentiment:+.2f}",
            one_line(t.response.handoff.reason, 60),
            one_line(t.conversation.request.text, 60),
        ]
        for t in tickets
    ]
    return f"{render_table(_COLUMNS, rows)}\n{len(rows)} open"


def run_command(settings: ConduitSettings, args: argparse.Namespace) -> int:
    """Run a parsed `conduit handoff` command; returns the process exit status."""

    def run() -> int:
        if args.handoff_command == "list":
            topics = Topics(settings.topic_prefix)
            print(render(asyncio.run(open_tickets(settings.kafka_bootstrap, topics))))
            return 0
        if not asyncio.run(reply(settings, args.request_id, args.text, user=args.user)):
            print(f"no open handoff for request {args.request_id}", file=sys.stderr)
            return 1
        print(f"answered {args.request_id}")
        return 0

    return kafka_command(settings, "handoffs", run)
