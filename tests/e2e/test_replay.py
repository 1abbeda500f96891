"""`conduit replay` over the real Kafka broker: refund requests answered by the six-process
stack (scripted models at a price: `scripted-basic`) are read back off the topics by
request id and replayed through the CLI in its sandbox, once with a prompt version that
never refunds and once with a dearer model; both show up in the report. An export of the
same requests replays from the file to the same comparison; `--since` exports only the
requests created from then on."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from conduit.cli import main
from conduit.replay import read_recordings
from conduit.stack import ServiceProcesses
from shared.bus import Topics
from shared.client import ConduitClient
from shared.testing import KafkaServer
from tests.e2e.conftest import (
    PRINCIPAL_KEY,
    REFUND_MESSAGE,
    STARTUP_TIMEOUT_S,
    describe,
    load_knowledge,
)
from tests.fixtures.replay.runs import MODELS_FILE, OVERLAY

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.timeout(420)]

NOT_ELIGIBLE = "Please refund invoice INV-1002, I think it was wrong"


@pytest.fixture
def stack_env() -> dict[str, str]:
    return {"CONDUIT_INFERENCE_MODELS_FILE": str(MODELS_FILE)}


@pytest.fixture
def cli_env(
    kafka_server: KafkaServer, topics: Topics, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What an operator's shell would hold: the cluster, the prefix, the principal key."""
    for name, value in {
        "CONDUIT_BUS": "kafka",
        "CONDUIT_KAFKA_BOOTSTRAP": kafka_server.bootstrap_servers,
        "CONDUIT_TOPIC_PREFIX": topics.prefix,
        "CONDUIT_PRINCIPAL_KEY": PRINCIPAL_KEY,
        "CONDUIT_DATA_DIR": str(tmp_path / "cli"),
        "CONDUIT_INFERENCE_BACKEND": "scripted",
        "CONDUIT_INFERENCE_MODELS_FILE": str(MODELS_FILE),
    }.items():
        monkeypatch.setenv(name, value)


async def _conduit(*argv: str) -> None:
    """`conduit ...` in a thread: the command runs its own event loop."""
    try:
        await asyncio.to_thread(main, list(argv))
    except SystemExit as exit_status:
        raise AssertionError(f"conduit {' '.join(argv)} exited {exit_status.code}") from None


def _findings(report: str) -> list[str]:
    """The request headings and their findings, in report order: no timings."""
    return re.findall(r"^(?:### .*|- .*)$", report, flags=re.MULTILINE)


@pytest.mark.usefixtures("cli_env")
async def test_replay_reports_a_prompt_change_and_a_model_change_and_an_export_replays_alike(
    stack: ServiceProcesses, client: ConduitClient, tmp_path: Path
) -> None:
    await load_knowledge(client, tmp_path)
    refunded = await client.ask(REFUND_MESSAGE, session_id="replay-1", timeout_s=STARTUP_TIMEOUT_S)
    declined = await client.ask(NOT_ELIGIBLE, session_id="replay-2", timeout_s=STARTUP_TIMEOUT_S)
    for response in (refunded, declined):
        assert response.HasField("answer"), f"no answer: {response}\n{describe(stack)}"
    assert response.envelope.versions.model == "scripted-basic", response.envelope.versions
    selected = [
        arg
        for response in (refunded, declined)
        for arg in ("--request-id", response.envelope.request_id)
    ]
    refund_id = refunded.envelope.request_id

    prompt_args = ["--prompt", "refund_agent=9", "--config-overlay", str(OVERLAY)]
    await _conduit("replay", "run", *selected, *prompt_args, "--output-dir", str(tmp_path / "p"))
    prompt_report = (tmp_path / "p" / "replay-report.md").read_text(encoding="utf-8")
    regressions = prompt_report.split("## Regressions", 1)[-1].split("\n## ", 1)[0]
    assert f"### {refund_id}" in regressions, f"the lost refund is no regression:\n{prompt_report}"
    assert '- tool call lost: issue_refund {"amount":49.99,"invoice_id":"INV-1001"}' in regressions
    assert "- answer text differs" in regressions, regressions
    assert re.search(r"\| prompt \| refund_agent v3\+\S+ .*\| refund_agent v9\+", prompt_report)
    page = (tmp_path / "p" / "replay-report.html").read_text(encoding="utf-8")
    sections = re.findall(r'<section class="(\w+)">', page)
    assert sections[0] == "regression", f"the page does not open with the regression: {sections}"

    model_args = ["--model", "scripted-premium", "--models", str(MODELS_FILE)]
    await _conduit("replay", "run", *selected, *model_args, "--output-dir", str(tmp_path / "m"))
    model_report = (tmp_path / "m" / "replay-report.md").read_text(encoding="utf-8")
    assert model_report.count("- cost up:") == 2, f"a dearer model must cost more:\n{model_report}"
    assert "| model | scripted-basic | scripted-premium |" in model_report, model_report
    assert "tool call lost" not in model_report, "the model change altered more than the cost"

    export = tmp_path / "export.jsonl"
    await _conduit("replay", "export", *selected, "--output", str(export))
    from_file = ["--from-file", str(export), "--output-dir", str(tmp_path / "f")]
    await _conduit("replay", "run", *prompt_args, *from_file)
    file_report = (tmp_path / "f" / "replay-report.md").read_text(encoding="utf-8")
    assert _findings(file_report) == _findings(prompt_report), (
        f"the export replays otherwise than the topics:\n{file_report}\n---\n{prompt_report}"
    )

    later = tmp_path / "later.jsonl"
    since = str(declined.envelope.created_unix_ms)
    await _conduit("replay", "export", "--since", since, "--output", str(later))
    exported = [r.request_id for r in read_recordings(later)]
    assert exported == [declined.envelope.request_id], f"--since {since} exported {exported}"
