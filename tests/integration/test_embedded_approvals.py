"""Approval-gated tools in the embedded mode: the approvals desk runs in the same process,
so a refund that needs a supervisor parks, and a decision resumes it (scripted stand-in
model, in-memory bus)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conduit.embedded import EmbeddedConduit
from shared.bus import BusMessage
from shared.config import ConduitSettings
from shared.contracts import Response
from shared.runtime.approvals import Verb, decision_for, publish_decision
from tests.fixtures.approvals import config_needing_refund_approval

pytestmark = pytest.mark.timeout(120)

REFUND = "I was charged twice for invoice INV-1001, please refund me"


@pytest.fixture
async def conduit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[EmbeddedConduit]:
    monkeypatch.setenv("CONDUIT_INFERENCE_BACKEND", "scripted")
    settings = ConduitSettings(
        data_dir=tmp_path,
        config_dir=config_needing_refund_approval(tmp_path, expires_after_s=600.0),
        retry_backoff_s=0.0,
    )
    async with EmbeddedConduit(settings) as running:
        await running.load_knowledge(settings.config_dir / "knowledge")
        yield running


@pytest.fixture
async def responses(conduit: EmbeddedConduit) -> AsyncIterator[list[Response]]:
    seen: list[Response] = []

    async def keep(message: BusMessage) -> None:
        seen.append(Response.FromString(message.value))

    listener = await conduit.bus.listen(conduit.topics.responses, keep)
    yield seen
    await listener.close()


def _payments(data_dir: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(data_dir / "tool-executor" / "business.sqlite3") as db:
        return db.execute("SELECT invoice_id, amount_cents FROM payments").fetchall()


async def _decide(conduit: EmbeddedConduit, approval_id: str, verb: Verb) -> None:
    decision = decision_for(
        approval_id,
        verb,
        user="sam",
        roles=["supervisor"],
        key=conduit.settings.principal_key_bytes(),
    )
    await publish_decision(conduit.bus, conduit.topics, decision)


async def _final(responses: list[Response], request_id: str) -> Response:
    for _ in range(300):
        for response in responses:
            if response.envelope.request_id == request_id and not response.HasField("pending"):
                return response
        await asyncio.sleep(0.1)
    raise AssertionError(f"no response of {request_id} after its approval within 30 s")


@pytest.mark.parametrize(
    ("verb", "outcome", "paid"),
    [("approve", "answer", [("INV-1001", 4999)]), ("reject", "handoff", [])],
)
async def test_a_decision_resumes_the_parked_refund_in_the_embedded_mode(
    conduit: EmbeddedConduit,
    responses: list[Response],
    tmp_path: Path,
    verb: Verb,
    outcome: str,
    paid: list[tuple[str, int]],
) -> None:
    pending = await conduit.client.ask(REFUND, session_id="embedded-approval")
    assert pending.HasField("pending"), f"the refund did not wait for approval: {pending}"
    assert _payments(tmp_path) == [], "nothing may be paid before the decision"

    await _decide(conduit, pending.pending.approval_id, verb)
    final = await _final(responses, pending.envelope.request_id)

    assert final.WhichOneof("outcome") == outcome, f"after {verb}: {final}"
    assert _payments(tmp_path) == paid, f"after {verb} the payments are wrong"
