"""Querying the audit trail: `conduit audit` reads the audit topic from its beginning.

The read is bounded by the end offsets seen when it starts, so it terminates while the
services keep writing. A record written twice (a redelivered step writes the same audit
id again) is shown once, as first written.

Example::

    listing = await read_audit(
        "127.0.0.1:9092", Topics("conduit"), AuditFilter(tool="issue_refund"), limit=20
    )
    print(render_listing(listing))
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterable
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka.errors import KafkaError
from google.protobuf.message import DecodeError

from conduit.deadletters import one_line, read_topic, render_table
from shared.bus import Topics
from shared.config import ConduitSettings
from shared.contracts import AuditRecord
from shared.runtime.audit import AUTHORIZATION, GUARDRAIL, TOOL_CALL

KINDS = (TOOL_CALL, GUARDRAIL, AUTHORIZATION)
# The kinds whose subject is a tool: a call, or a call refused for the caller's roles.
_TOOL_KINDS = frozenset({TOOL_CALL, AUTHORIZATION})
DETAIL_COLUMN_CHARS = 60


@dataclass(frozen=True)
class AuditFilter:
    """Which records to show; None matches everything. `tool` matches the tool's calls
    and refusals, never guardrail decisions."""

    request_id: str | None = None
    tenant_id: str | None = None
    tool: str | None = None
    kind: str | None = None

    def matches(self, record: AuditRecord) -> bool:
        if self.request_id is not None and record.request_id != self.request_id:
            return False
        if self.tenant_id is not None and record.tenant_id != self.tenant_id:
            return False
        if self.kind is not None and record.kind != self.kind:
            return False
        return self.tool is None or (record.kind in _TOOL_KINDS and record.subject == self.tool)


@dataclass(frozen=True)
class AuditListing:
    """The newest `limit` matching records, oldest first; `matched` counts every match
    (each audit id once) and `unreadable` the records that were no `AuditRecord`."""

    records: list[AuditRecord]
    matched: int
    unreadable: int = 0


async def read_audit(
    bootstrap: str, topics: Topics, matching: AuditFilter | None = None, *, limit: int = 100
) -> AuditListing:
    """The audit topic as written so far, filtered: see `select`."""
    async with aclosing(read_topic(bootstrap, topics.audit)) as messages:
        values = [message.value or b"" async for message in messages]
    return select(values, matching or AuditFilter(), limit=limit)


def select(values: Iterable[bytes], matching: AuditFilter, *, limit: int) -> AuditListing:
    """The newest `limit` records matching, in time order; each audit id once, as first
    written (the same audit id lands on the same partition, in write order)."""
    seen: set[str] = set()
    found: list[AuditRecord] = []
    unreadable = 0
    for value in values:
        record = _decode(value)
        if record is None:
            unreadable += 1
        elif record.audit_id not in seen:
            seen.add(record.audit_id)
            if matching.matches(record):
                found.append(record)
    # Partitions are read one after another: put the tenants' records back in time order.
    found.sort(key=lambda record: record.at_unix_ms)
    newest = found[-limit:] if limit > 0 else []
    return AuditListing(records=newest, matched=len(found), unreadable=unreadable)


def _decode(value: bytes) -> AuditRecord | None:
    record = AuditRecord()
    try:
        record.ParseFromString(value)
    except DecodeError:
        return None
    # Protobuf parses many byte strings without error; an audit id makes it ours.
    return record if record.audit_id else None


def render_listing(listing: AuditListing) -> str:
    # Every field comes from whoever published: flatten them before printing.
    rows = [
        [
            datetime.fromtimestamp(record.at_unix_ms / 1000, UTC).isoformat(timespec="seconds"),
            one_line(record.tenant_id, 40),
            one_line(record.principal.user_id, 40),
            one_line(record.request_id, 64),
            one_line(record.service, 40),
            one_line(record.kind, 20),
            one_line(record.subject, 64),
            one_line(record.outcome, 40),
            one_line(record.idempotency_key, 120),
            one_line(record.detail, DETAIL_COLUMN_CHARS),
        ]
        for record in listing.records
    ]
    header = [
        "TIME",
        "TENANT",
        "USER",
        "REQUEST",
        "SERVICE",
        "KIND",
        "SUBJECT",
        "OUTCOME",
        "IDEMPOTENCY KEY",
        "DETAIL",
    ]
    footer = f"{len(rows)} of {listing.matched} audit records (newest last)"
    if listing.unreadable:
        footer += f"; {listing.unreadable} unreadable records skipped"
    return f"{render_table(header, rows)}\n{footer}" if rows else footer


# --- `conduit audit` ----------------------------------------------------------------------


def run_command(settings: ConduitSettings, args: argparse.Namespace) -> int:
    """Run a parsed `conduit audit` command; returns the process exit status."""
    if settings.bus != "kafka":
        print(
            "the audit trail lives in Kafka: set CONDUIT_BUS=kafka and CONDUIT_KAFKA_BOOTSTRAP",
            file=sys.stderr,
        )
        return 2
    matching = AuditFilter(
        request_id=args.request, tenant_id=args.tenant, tool=args.tool, kind=args.kind
    )
    topics = Topics(settings.topic_prefix)
    try:
        listing = asyncio.run(
            read_audit(settings.kafka_bootstrap, topics, matching, limit=args.limit)
        )
    except TimeoutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KafkaError as exc:
        print(f"error: Kafka at {settings.kafka_bootstrap}: {exc!r}", file=sys.stderr)
        return 1
    print(render_listing(listing))
    return 0
