"""`conduit eval routes`: the figures, the report, the chart, and the held-out test set's bar."""

from pathlib import Path

import pytest
import yaml

from conduit.cli import main
from conduit.route_eval import LabelledMessage, Routed, calibration_error, figures
from services.intent.classifier import Classification
from shared.config import repo_root

TEST_SET = repo_root() / "tests/data/routes/test.yaml"
ROUTES = ["refund", "order_status", "escalation", "out_of_scope"]
# The held-out set's score, enforced: issue 19 asks for 95% overall and 95% on escalation
# (the router reaches 96.9% and 100%, bench/results/routes-test.json).
OVERALL_BAR = 0.95
ESCALATION_BAR = 0.95


def _routed(
    text: str, expected: str, got: str, confidence: float, *, unsure: bool = False
) -> Routed:
    result = Classification(
        intent=got, confidence=confidence, scores=((got, confidence),), unsure=unsure
    )
    return Routed(LabelledMessage(text=text, route=expected), result, seconds=0.01)


def test_figures_count_an_unsure_message_as_routed_to_nobody() -> None:
    routed = [
        _routed("a", "refund", "refund", 0.9),
        _routed("b", "refund", "refund", 0.3, unsure=True),
        _routed("c", "escalation", "escalation", 0.8),
        _routed("d", "out_of_scope", "refund", 0.6),
    ]
    report = figures(routed, ROUTES)
    assert report["accuracy"] == 0.5, report
    assert report["confusion"]["refund"] == {
        "refund": 1, "order_status": 0, "escalation": 0, "out_of_scope": 0, "unsure": 1
    }  # fmt: skip
    assert report["per_route"]["refund"] == {"messages": 2, "precision": 0.5, "recall": 0.5}
    assert report["unsure_rate"] == 0.25
    assert report["handoff_rate"] == 0.5, "unsure and escalation both go to a person"
    assert [m["text"] for m in report["most_confused"]] == ["d", "b"], "most confident first"


def test_calibration_error_is_zero_when_probabilities_match_the_share_right() -> None:
    routed = [
        _routed(str(i), "refund", "refund" if i < 3 else "escalation", 0.75) for i in range(4)
    ]
    assert calibration_error(routed) == pytest.approx(0.0)


def test_calibration_error_of_only_refused_messages_is_zero() -> None:
    refused = Classification(intent="unsure", confidence=0.0, scores=(), unsure=True)
    routed = [Routed(LabelledMessage(text="", route="refund"), refused, seconds=0.0)]
    assert calibration_error(routed) == 0.0


def test_calibration_error_of_a_confident_wrong_router_is_its_confidence() -> None:
    routed = [_routed(str(i), "refund", "escalation", 0.9) for i in range(5)]
    assert calibration_error(routed) == pytest.approx(0.9)


def _eval(*args: str) -> int | str | None:
    """The command's exit status (main returns normally on success)."""
    try:
        main(["eval", "routes", *args])
    except SystemExit as exit_status:
        return exit_status.code
    return 0


def test_the_command_prints_the_table_and_writes_the_chart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labelled = tmp_path / "few.yaml"
    messages = [
        {"text": "I want my money back for the broken kettle", "route": "refund"},
        {"text": "Get me a manager now", "route": "escalation"},
        {"text": "", "route": "out_of_scope"},
    ]
    labelled.write_text(yaml.safe_dump({"messages": messages}))
    chart, report = tmp_path / "routes.png", tmp_path / "routes.json"
    assert _eval(str(labelled), "--chart", str(chart), "--json", str(report)) == 0
    printed = capsys.readouterr().out
    for heading in ("accuracy", "PRECISION", "RECALL", "ECE", "confusion", "ms per message"):
        assert heading in printed, f"the report must show {heading!r}:\n{printed}"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", "the chart must be a PNG"
    assert yaml.safe_load(report.read_text())["messages"] == 3


def test_a_label_that_is_not_a_route_fails_naming_the_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labelled = tmp_path / "bad.yaml"
    labelled.write_text(yaml.safe_dump({"messages": [{"text": "hi", "route": "refunds"}]}))
    assert _eval(str(labelled), "--chart", str(tmp_path / "x.png")) == 2
    error = capsys.readouterr().err
    assert str(labelled) in error, error
    assert "messages.0.route" in error, error


def test_the_held_out_test_set_is_routed_at_the_bar(tmp_path: Path) -> None:
    messages = yaml.safe_load(TEST_SET.read_text(encoding="utf-8"))["messages"]
    routes = ("refund", "order_status", "product_question", "escalation", "out_of_scope")
    counts = {route: sum(m["route"] == route for m in messages) for route in routes}
    assert len(messages) >= 120, f"the test set must hold at least 120 messages: {counts}"
    assert min(counts.values()) >= 15, f"at least 15 messages per route: {counts}"
    report_path = tmp_path / "test.json"
    assert _eval(str(TEST_SET), "--chart", str(tmp_path / "t.png"), "--json", str(report_path)) == 0
    report = yaml.safe_load(report_path.read_text())
    confused = [(m["expected"], m["got"], m["text"]) for m in report["most_confused"]]
    assert report["accuracy"] >= OVERALL_BAR, (
        f"test-set accuracy {report['accuracy']:.3f} < {OVERALL_BAR}; worst: {confused}"
    )
    escalation = report["per_route"]["escalation"]["recall"]
    assert escalation >= ESCALATION_BAR, (
        f"escalation recall {escalation:.3f} < {ESCALATION_BAR}; worst: {confused}"
    )
