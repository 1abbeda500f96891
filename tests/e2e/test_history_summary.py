"""A long conversation through the gateway process over the real Kafka broker (six service
processes, scripted stand-in model): once the session's history outgrows its budget, the
`summarise_history` workflow runs through the pipeline and its summary is stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from conduit.stack import ServiceProcesses
from shared.config import ConduitSettings
from shared.memory import open_memory
from tests.e2e.conftest import GatewayProcess, describe

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.timeout(300)]

SESSION = "long-talk"


@pytest.fixture
def stack_env() -> dict[str, str]:
    """A history budget small enough for a few exchanges to overflow it."""
    return {"CONDUIT_GATEWAY_HISTORY_BUDGET_TOKENS": "60"}


async def test_an_overflowing_history_is_summarised_by_the_pipeline_and_stored(
    gateway: GatewayProcess, stack: ServiceProcesses, tmp_path: Path
) -> None:
    for question in (
        "Where is my order ORD-5001?",
        "And when will ORD-5001 arrive exactly?",
        "Which carrier has ORD-5001?",
        "Thanks. Is ORD-5002 shipped too?",
    ):
        reply = await gateway.http.post(
            "/v1/ask", json={"text": question, "session_id": SESSION}, headers=gateway.auth()
        )
        assert reply.status_code == 200, f"{reply.status_code} {reply.text}\n{describe(stack)}"

    memory = open_memory(ConduitSettings(data_dir=tmp_path))
    try:
        summary = await memory.summary("default", SESSION)
    finally:
        await memory.close()
    assert summary is not None, f"no summary was stored\n{describe(stack)}"
    assert summary.text.strip(), "the stored summary is empty"
    assert summary.through_seq >= 1, f"the summary covers no turns: {summary}"
