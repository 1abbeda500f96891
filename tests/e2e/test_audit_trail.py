"""The audit trail of the refund conversation, across six OS processes over the real Kafka
broker: every tool call and guardrail decision, redacted, found again by `conduit audit`."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from conduit.audit import AuditFilter, read_audit
from conduit.stack import ServiceProcesses
from shared.bus import Topics
from shared.client import ConduitClient
from shared.config import repo_root
from shared.contracts import AuditRecord
from shared.testing import KafkaServer
from tests.e2e.conftest import REFUND_MESSAGE, STARTUP_TIMEOUT_S, describe, load_knowledge

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.timeout(300)]

CARD = "4111 1111 1111 1111"
EMAIL = "ann@example.com"
TOOLS = ["lookup_invoice", "check_refund_policy", "issue_refund"]


async def _conduit_audit(kafka_server: KafkaServer, topics: Topics, *args: str) -> str:
    env = {
        **os.environ,
        "CONDUIT_BUS": "kafka",
        "CONDUIT_KAFKA_BOOTSTRAP": kafka_server.bootstrap_servers,
        "CONDUIT_TOPIC_PREFIX": topics.prefix,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "conduit",
        "audit",
        *args,
        cwd=repo_root(),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    output, errors = await asyncio.wait_for(process.communicate(), 60)
    text = output.decode(errors="replace")
    assert process.returncode == 0, (
        f"conduit audit failed:\n{text}{errors.decode(errors='replace')}"
    )
    return text


def _describe(records: list[AuditRecord]) -> str:
    return "\n".join(
        f"{r.service} {r.kind} {r.subject} {r.outcome} {r.idempotency_key} {r.detail!r}"
        for r in records
    )


async def test_the_refund_conversation_leaves_a_redacted_audit_trail_found_by_request_and_tool(
    stack: ServiceProcesses,
    client: ConduitClient,
    kafka_server: KafkaServer,
    topics: Topics,
    tmp_path: Path,
) -> None:
    await load_knowledge(client, tmp_path)
    response = await client.ask(
        f"{REFUND_MESSAGE}. My card is {CARD}, write to {EMAIL}",
        session_id="e2e-audit",
        user_id="u-audit",
        timeout_s=STARTUP_TIMEOUT_S,
    )
    assert response.HasField("answer"), f"no answer: {response}\n{describe(stack)}"
    request_id = response.envelope.request_id

    # Records are published, and acknowledged, before the step that wrote them moves on.
    listing = await read_audit(
        kafka_server.bootstrap_servers, topics, AuditFilter(request_id=request_id)
    )
    records = listing.records
    trail = _describe(records)

    calls = [r for r in records if r.kind == "tool_call"]
    assert [r.subject for r in calls] == TOOLS, f"tool calls missing from the trail:\n{trail}"
    assert all(r.outcome == "ok" for r in calls), f"a tool call did not succeed:\n{trail}"
    keys = [x.idempotency_key for x in response.tool_exchanges]
    assert [r.idempotency_key for r in calls] == keys, f"keys differ from {keys}:\n{trail}"
    assert all('"invoice_id":"INV-1001"' in r.detail for r in calls), f"arguments:\n{trail}"

    decisions = {r.subject: r for r in records if r.kind == "guardrail"}
    assert set(decisions) == {"input", "output"}, f"guardrail decisions missing:\n{trail}"
    assert decisions["input"].outcome == "redacted", f"input decision:\n{trail}"
    assert decisions["input"].detail == "redacted 1 card_number, 1 email", trail
    assert decisions["output"].outcome == "pass", f"output decision:\n{trail}"

    for record in records:
        assert (record.tenant_id, record.principal.user_id) == ("default", "u-audit"), record
        serialized = record.SerializeToString()
        assert CARD.encode() not in serialized, f"a card number reached the trail:\n{trail}"
        assert EMAIL.encode() not in serialized, f"an email reached the trail:\n{trail}"

    table = await _conduit_audit(kafka_server, topics, "--tool", "issue_refund")
    rows = [line for line in table.splitlines() if request_id in line]
    assert len(rows) == 1, f"`conduit audit --tool issue_refund` should list one call:\n{table}"
    assert keys[-1] in rows[0], f"the row lacks the refund's idempotency key:\n{table}"
    assert table.rstrip().endswith("1 of 1 audit records (newest last)"), table
