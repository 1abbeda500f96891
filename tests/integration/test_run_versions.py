"""Prompt, workflow and model versions as data: every step event after the prompt is built,
the response, and every step's exported span name the prompt version (id and label), the
workflow version (with its content hash) and the model that answered. Embedded mode, the
scripted stand-in model, spans in the local trace file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conduit.embedded import EmbeddedConduit
from conduit.waterfall import request_spans, spans_from_file
from services.prompt_builder.templates import TemplateStore
from shared.bus import BusMessage
from shared.config import ConduitSettings
from shared.contracts import Response, StepEvent
from shared.workflow import WorkflowRegistry

pytestmark = pytest.mark.timeout(120)

REFUND = "I was charged twice for invoice INV-1001, please refund me"
# Without a models file the inference service runs the one backend it is given, by that name.
SCRIPTED_ENTRY = "scripted"


@pytest.fixture
async def conduit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[EmbeddedConduit]:
    monkeypatch.setenv("CONDUIT_INFERENCE_BACKEND", "scripted")
    settings = ConduitSettings(data_dir=tmp_path, traces="file")
    async with EmbeddedConduit(settings) as embedded:
        await embedded.load_knowledge(settings.config_dir / "knowledge")
        yield embedded


async def _refund_with_events(conduit: EmbeddedConduit) -> tuple[Response, list[StepEvent]]:
    events: list[StepEvent] = []

    async def keep(message: BusMessage) -> None:
        events.append(StepEvent.FromString(message.value))

    listeners = [
        await conduit.bus.listen(conduit.topics.step(service), keep)
        for service in ("inference", "tool-executor", "guardrail")
    ]
    try:
        response = await conduit.client.ask(REFUND, session_id="versions")
        await conduit.bus.idle()
    finally:
        for listener in listeners:
            await listener.close()
    return response, [e for e in events if e.envelope.request_id == response.envelope.request_id]


async def test_the_response_names_the_prompt_workflow_and_model_versions(
    conduit: EmbeddedConduit,
) -> None:
    response, _ = await _refund_with_events(conduit)
    config = conduit.settings.config_dir
    template = TemplateStore(config / "prompts").get("refund_agent")
    refund = WorkflowRegistry.load(config / "workflows").get("refund")
    assert refund is not None

    versions = response.envelope.versions
    assert response.HasField("answer"), response
    assert versions.prompt_template == "refund_agent", versions
    assert versions.prompt_version == template.version_id, versions
    assert versions.prompt_label == template.template.label, versions
    assert versions.model == SCRIPTED_ENTRY, versions
    assert response.envelope.workflow.name == "refund", response.envelope.workflow
    assert response.envelope.workflow.content_hash == refund.content_hash, (
        f"the response does not pin the refund workflow's definition: {response.envelope.workflow}"
    )


async def test_every_step_event_after_the_prompt_carries_its_versions(
    conduit: EmbeddedConduit,
) -> None:
    response, events = await _refund_with_events(conduit)
    assert len(events) >= 4, f"expected the refund loop's step events, saw {len(events)}"
    for event in events:
        where = f"{event.envelope.workflow.name}.{event.envelope.workflow.step}"
        assert event.envelope.versions.prompt_version, f"{where}: no prompt version"
        assert event.envelope.workflow.content_hash, f"{where}: no workflow content hash"
        assert event.prompt.template_label, f"{where}: the built prompt lacks its label"
    after_model = [e for e in events if e.HasField("model_output")]
    assert after_model, "no step event after a model call"
    assert all(e.envelope.versions.model == SCRIPTED_ENTRY for e in after_model), [
        e.envelope.versions for e in after_model
    ]
    assert response.envelope.versions == events[-1].envelope.versions


async def test_every_step_span_after_the_prompt_is_built_names_the_versions(
    conduit: EmbeddedConduit, tmp_path: Path
) -> None:
    response, _ = await _refund_with_events(conduit)
    await asyncio.sleep(0.1)  # the last step's span closes just after it answered
    assert conduit.tracing is not None
    conduit.tracing.force_flush()
    spans = request_spans(spans_from_file(tmp_path / "traces.jsonl"), response.envelope.request_id)
    versions = response.envelope.versions

    steps = [s for s in spans if "conduit.step" in s.attributes]
    assert all(s.attributes.get("conduit.workflow_hash") for s in steps), [
        (s.name, s.attributes) for s in steps if not s.attributes.get("conduit.workflow_hash")
    ]
    later = [s for s in steps if s.attributes["conduit.service"] in ("inference", "tool-executor")]
    assert later, "no inference or tool-executor step span"
    for span in later:
        assert span.attributes.get("conduit.prompt.version") == versions.prompt_version, span
        assert span.attributes.get("conduit.prompt.label") == versions.prompt_label, span
        assert span.attributes.get("conduit.model") == SCRIPTED_ENTRY, span
    chats = [s for s in spans if s.name.startswith("chat ")]
    assert chats, "no model-call span"
    assert all(s.attributes.get("conduit.model") == SCRIPTED_ENTRY for s in chats), chats
