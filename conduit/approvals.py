"""`conduit approvals`: the tool calls waiting for a person, and deciding them.

`list` reads the approvals and decisions topics (bounded by their end offsets when it
starts) and shows the parked calls that no one has decided and that have not expired.
`approve ID` / `reject ID` publish a decision, signed with `CONDUIT_PRINCIPAL_KEY` as the
operator's CLI vouches for its user; the approvals desk resumes the request.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime

from conduit.deadletters import (
    kafka_command,
    one_line,
    parsed_or_none,
    render_table,
    still_open,
)
from shared.bus import Topics
from shared.config import ConduitSettings
from shared.contracts import ApprovalDecision, ApprovalRequest, DecisionEvent, ParkedRequest, now_ms
from shared.runtime import make_bus
from shared.runtime.approvals import OUTCOMES, decision_for, publish_decision


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    approvals = commands.add_parser("approvals", help="tool calls waiting for approval (Kafka)")
    verbs = approvals.add_subparsers(dest="approvals_command", required=True)
    verbs.add_parser("list", help="the calls waiting for a decision, oldest first")
    for verb in OUTCOMES:
        decide = verbs.add_parser(verb, help=f"{verb} a waiting call by its approval id")
        decide.add_argument("approval_id")
        decide.add_argument("--user", required=True, help="who decides (recorded)")
        decide.add_argument("--role", dest="roles", action="append", required=True)
        decide.add_argument("--comment", default="")


async def waiting_approvals(bootstrap: str, topics: Topics) -> list[ApprovalRequest]:
    """Parked calls with no decision on the decisions topic that have not expired."""

    def unexpired(value: bytes | None) -> tuple[str, ApprovalRequest] | None:
        parked = parsed_or_none(ParkedRequest(), value)
        if parked is None or parked.approval.expires_at_unix_ms <= now_ms():
            return None
        return parked.approval.approval_id, parked.approval

    def decided(value: bytes | None) -> str | None:
        decision = parsed_or_none(DecisionEvent(), value)
        return None if decision is None else decision.decision.approval_id

    waiting = await still_open(
        bootstrap,
        opened_on=topics.approvals,
        closed_on=topics.approval_decisions,
        opening=unexpired,
        closing=decided,
    )
    return sorted(waiting, key=lambda a: a.requested_at_unix_ms)


async def _publish(settings: ConduitSettings, decision: ApprovalDecision) -> None:
    bus = make_bus(settings, client_id="conduit-approvals")
    await bus.start()
    try:
        await publish_decision(bus, Topics(settings.topic_prefix), decision)
    finally:
        await bus.stop()


def render(waiting: list[ApprovalRequest]) -> str:
    rows = [
        [
            one_line(a.approval_id, 120),
            one_line(a.tenant_id, 40),
            one_line(a.tool, 40),
            one_line(a.arguments_json, 60),
            ", ".join(a.approver_roles),
            datetime.fromtimestamp(a.expires_at_unix_ms / 1000, UTC).isoformat(timespec="seconds"),
        ]
        for a in waiting
    ]
    header = ["APPROVAL ID", "TENANT", "TOOL", "ARGUMENTS", "APPROVERS", "EXPIRES"]
    return f"{render_table(header, rows)}\n{len(rows)} waiting"


def run_command(settings: ConduitSettings, args: argparse.Namespace) -> int:
    """Run a parsed `conduit approvals` command; returns the process exit status."""

    def run() -> int:
        if args.approvals_command == "list":
            topics = Topics(settings.topic_prefix)
            print(render(asyncio.run(waiting_approvals(settings.kafka_bootstrap, topics))))
            return 0
        decision = decision_for(
            args.approval_id,
            args.approvals_command,
            user=args.user,
            roles=args.roles,
            comment=args.comment,
            key=settings.principal_key_bytes(),
        )
        asyncio.run(_publish(settings, decision))
        print(f"{args.approvals_command}d {args.approval_id}")
        return 0

    return kafka_command(settings, "approvals", run)
