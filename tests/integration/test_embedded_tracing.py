"""Tracing in the embedded mode: one trace per request across every service, written to
the local trace file and rendered by `conduit trace` (scripted stand-in model)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conduit.embedded import EmbeddedConduit
from conduit.waterfall import render, request_spans, spans_from_file
from shared.config import ConduitSettings

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def traced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[EmbeddedConduit]:
    monkeypatch.setenv("CONDUIT_INFERENCE_BACKEND", "scripted")
    settings = ConduitSettings(data_dir=tmp_path, traces="file")
    async with EmbeddedConduit(settings) as conduit:
        await conduit.load_knowledge(settings.config_dir / "knowledge")
        yield conduit


async def _flush(conduit: EmbeddedConduit) -> None:
    await asyncio.sleep(0.1)  # the last step's span closes just after it answered
    assert conduit.tracing is not None, "traces=file must install a tracer provider"
    conduit.tracing.force_flush()


async def test_one_request_is_one_trace_with_a_span_for_every_step(
    traced: EmbeddedConduit, tmp_path: Path
) -> None:
    response = await traced.client.ask(
        "I was charged twice for invoice INV-1001, please refund me", session_id="t1"
    )
    await _flush(traced)
    request_id = response.envelope.request_id

    spans = request_spans(spans_from_file(tmp_path / "traces.jsonl"), request_id)

    assert len({s.trace_id for s in spans}) == 1, "a request's spans span several traces"
    ids = {s.span_id for s in spans}
    roots = [s for s in spans if s.parent_id not in ids]
    assert [r.name for r in roots] == ["conduit ask"], f"expected one root: {roots}"
    services = {s.attributes.get("conduit.service") for s in spans} - {None}
    assert services == {
        "guardrail",
        "intent",
        "retrieval",
        "prompt-builder",
        "inference",
        "tool-executor",
    }, f"services missing from the trace: {services}"
    chats = [s for s in spans if s.name.startswith("chat ")]
    assert chats, "no model-call span"
    assert all(s.attributes["gen_ai.usage.input_tokens"] > 0 for s in chats), chats
    tools = [s.attributes["gen_ai.tool.name"] for s in spans if "gen_ai.tool.name" in s.attributes]
    assert tools == ["lookup_invoice", "check_refund_policy", "issue_refund"], tools
    waterfall = render(spans, request_id)
    assert "execute_tool issue_refund" in waterfall, waterfall
    assert "ada@" not in waterfall


async def test_no_personal_data_reaches_span_attributes_or_events(
    traced: EmbeddedConduit, tmp_path: Path
) -> None:
    await traced.client.ask(
        "Refund INV-1001, mail ada@example.com, card 4111 1111 1111 1111, call +44 20 7946 0958",
        session_id="pii",
    )
    await _flush(traced)
    exported = (tmp_path / "traces.jsonl").read_text()
    for secret in ("ada@example.com", "4111 1111 1111 1111", "20 7946 0958"):
        assert secret not in exported, f"{secret!r} reached the exported spans"
    assert "guardrail decision" in exported, "guardrail decisions are not recorded on spans"
