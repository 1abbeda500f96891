"""The replay sandbox in one process: a refund recorded on the embedded pipeline (real
tool-executor, scripted models at a price) replayed as it was, with a prompt that never
refunds, and with a dearer model."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from conduit.cli import main
from conduit.embedded import EmbeddedConduit
from conduit.replay import Recording, ReplayOverrides, compare, replay, write_recordings
from conduit.replay.command import REGRESSED
from conduit.replay.sandbox import RecordingTap
from shared.config import ConduitSettings
from shared.contracts import StepEvent, UserRequest, new_envelope
from tests.fixtures.replay.runs import MODELS_FILE, OVERLAY

pytestmark = pytest.mark.timeout(240)

REFUND = "I was charged twice for invoice INV-1001, please refund me"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ConduitSettings:
    monkeypatch.setenv("CONDUIT_INFERENCE_BACKEND", "scripted")
    monkeypatch.setenv("CONDUIT_INFERENCE_MODELS_FILE", str(MODELS_FILE))
    monkeypatch.delenv("CONDUIT_TOOL_EXECUTOR_DB", raising=False)
    return ConduitSettings(data_dir=tmp_path / "recorded")


@pytest.fixture
async def recorded(settings: ConduitSettings) -> Recording:
    async with EmbeddedConduit(settings) as conduit:
        await conduit.load_knowledge(settings.config_dir / "knowledge")
        request = StepEvent(
            envelope=new_envelope(session_id="replay-sandbox"), request=UserRequest(text=REFUND)
        )
        tap = RecordingTap()
        async with tap.listening(conduit.bus, conduit.topics):
            response = await conduit.client.submit(request)
            await conduit.bus.idle()
            recording = tap.recording(request, response)
    tools = [x.call.tool for x in recording.tool_exchanges()]
    assert tools == ["lookup_invoice", "check_refund_policy", "issue_refund"], recording.response
    return recording


async def test_a_replay_without_overrides_does_what_the_recording_did(
    recorded: Recording, settings: ConduitSettings
) -> None:
    [again] = await replay([recorded], settings, ReplayOverrides())

    comparison = compare(recorded, again)
    assert comparison.verdict == "same", comparison.findings
    assert again.response is not None
    assert not any(x.replayed for x in again.response.tool_exchanges), "no ledger was asked"


async def test_a_prompt_that_never_refunds_loses_the_refund_and_changes_the_answer(
    recorded: Recording, settings: ConduitSettings
) -> None:
    overrides = ReplayOverrides(prompts={"refund_agent": "9"}, overlay=OVERLAY)

    [again] = await replay([recorded], settings, overrides)

    comparison = compare(recorded, again)
    assert comparison.verdict == "regression", comparison.findings
    assert any(f.startswith("tool call lost: issue_refund") for f in comparison.findings)
    assert "answer text differs" in comparison.findings, comparison.findings
    assert comparison.replayed.prompt.startswith("refund_agent v9+"), comparison.replayed.prompt


async def test_a_dearer_model_shows_up_as_a_cost_regression(
    recorded: Recording, settings: ConduitSettings
) -> None:
    overrides = ReplayOverrides(model="scripted-premium", models_file=MODELS_FILE)

    [again] = await replay([recorded], settings, overrides)

    comparison = compare(recorded, again)
    assert comparison.recorded.model == "scripted-basic", comparison.recorded
    assert comparison.replayed.model == "scripted-premium", comparison.replayed
    assert comparison.replayed.cost_usd > comparison.recorded.cost_usd > 0, comparison
    assert any(f.startswith("cost up:") for f in comparison.findings), comparison.findings
    assert comparison.replayed.answer == comparison.recorded.answer, "only the price changed"


async def test_the_cli_replays_an_export_and_fails_on_a_regression_when_asked(
    recorded: Recording, settings: ConduitSettings, tmp_path: Path
) -> None:
    export = tmp_path / "export.jsonl"
    write_recordings(export, [recorded])
    argv = ["replay", "run", "--from-file", str(export), "--prompt", "refund_agent=9"]
    argv += ["--config-overlay", str(OVERLAY), "--output-dir", str(tmp_path / "report")]

    with pytest.raises(SystemExit) as exited:
        await asyncio.to_thread(main, [*argv, "--fail-on-regression"])

    assert exited.value.code == REGRESSED, f"exit status {exited.value.code}"
    markdown = (tmp_path / "report" / "replay-report.md").read_text(encoding="utf-8")
    assert "1 requests replayed: 1 regressions" in markdown, markdown
    assert (tmp_path / "report" / "replay-report.html").is_file()
