"""All six services in one process over the in-memory bus, driven through the real
handlers, with the deterministic scripted stand-in model (not a language model)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conduit.embedded import EmbeddedConduit
from shared.config import ConduitSettings
from shared.contracts import ErrorCode, Response, StepEvent, UserRequest, new_envelope

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def conduit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[EmbeddedConduit]:
    monkeypatch.setenv("CONDUIT_INFERENCE_BACKEND", "scripted")
    settings = ConduitSettings(data_dir=tmp_path, retry_backoff_s=0.0)
    async with EmbeddedConduit(settings) as running:
        await running.load_knowledge(settings.config_dir / "knowledge")
        yield running


def _error_code(response: Response) -> str:
    assert response.HasField("error"), f"expected an error response, got {response}"
    return ErrorCode.Name(response.error.code)


def _payments(data_dir: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(data_dir / "tool-executor" / "business.sqlite3") as db:
        return db.execute("SELECT invoice_id, amount_cents FROM payments").fetchall()


async def test_refund_conversation_looks_up_checks_refunds_and_answers_with_a_source(
    conduit: EmbeddedConduit, tmp_path: Path
) -> None:
    response = await conduit.client.ask(
        "I was charged twice for invoice INV-1001, please refund me", session_id="s1"
    )
    assert response.HasField("answer"), f"no answer: {response}"
    tools = [x.call.tool for x in response.tool_exchanges]
    assert tools == ["lookup_invoice", "check_refund_policy", "issue_refund"], tools
    assert response.answer.sources, "the refund answer cites no policy source"
    assert _payments(tmp_path) == [("INV-1001", 4999)], "exactly one refund of $49.99"


async def test_order_status_runs_the_fixed_chain_with_the_extracted_order_id(
    conduit: EmbeddedConduit,
) -> None:
    response = await conduit.client.ask("Where is my order ORD-5001?", session_id="s2")
    assert response.intent == "order_status", response.intent
    assert response.HasField("answer"), f"no answer: {response}"
    [exchange] = response.tool_exchanges
    assert exchange.call.tool == "lookup_order"
    assert '"ORD-5001"' in exchange.call.arguments_json


async def test_product_question_is_answered_from_retrieved_chunks(
    conduit: EmbeddedConduit,
) -> None:
    response = await conduit.client.ask(
        "How long is the warranty and what does it cover?", session_id="s3"
    )
    assert response.intent == "product_question", response.intent
    assert response.HasField("answer"), f"no answer: {response}"
    assert any(s.startswith("warranty#") for s in response.answer.sources), response.answer


async def test_out_of_scope_message_is_handed_to_a_person(conduit: EmbeddedConduit) -> None:
    response = await conduit.client.ask(
        "What's the weather like in Paris tomorrow?", session_id="s4"
    )
    assert response.HasField("handoff"), f"expected a human handoff, got {response}"


async def test_oversize_input_ends_with_input_too_large(conduit: EmbeddedConduit) -> None:
    response = await conduit.client.ask("refund " * 2000, session_id="s5")
    assert _error_code(response) == "ERROR_CODE_INPUT_TOO_LARGE"


async def test_pii_never_reaches_the_model(conduit: EmbeddedConduit) -> None:
    response = await conduit.client.ask(
        "Refund INV-1001 please, mail me at ada@example.com or call +44 20 7946 0958",
        session_id="s6",
    )
    assert response.HasField("answer"), f"no answer: {response}"
    assert "ada@example.com" not in str(response), "an email address travelled in clear"
    assert "7946 0958" not in str(response), "a phone number travelled in clear"


async def test_unknown_workflow_ends_with_a_typed_error(conduit: EmbeddedConduit) -> None:
    event = StepEvent(envelope=new_envelope(session_id="s7"), request=UserRequest(text="hello"))
    event.envelope.workflow.name = "no_such_workflow"
    response = await conduit.client.submit(event, timeout_s=30)
    assert _error_code(response) == "ERROR_CODE_UNKNOWN_WORKFLOW"


async def test_expired_deadline_ends_with_deadline_exceeded(conduit: EmbeddedConduit) -> None:
    event = StepEvent(
        envelope=new_envelope(session_id="s8", timeout_s=-1),
        request=UserRequest(text="Where is my order ORD-5001?"),
    )
    response = await conduit.client.submit(event, timeout_s=30)
    assert _error_code(response) == "ERROR_CODE_DEADLINE_EXCEEDED"


async def test_a_tiny_token_budget_ends_with_budget_exhausted(conduit: EmbeddedConduit) -> None:
    event = StepEvent(
        envelope=new_envelope(session_id="s9", max_tokens=50),
        request=UserRequest(text="I was charged twice for INV-1001, refund me"),
    )
    response = await conduit.client.submit(event, timeout_s=30)
    assert _error_code(response) == "ERROR_CODE_BUDGET_EXHAUSTED"
    assert not any(x.call.tool == "issue_refund" for x in response.tool_exchanges)


async def test_a_role_without_tool_permission_is_refused(conduit: EmbeddedConduit) -> None:
    response = await conduit.client.ask(
        "Where is my order ORD-5001?", session_id="s10", roles=["guest"]
    )
    assert _error_code(response) == "ERROR_CODE_TOOL_NOT_ALLOWED"
