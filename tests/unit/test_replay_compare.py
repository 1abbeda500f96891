"""Comparing a replayed request with its recording: regression, change or the same."""

from __future__ import annotations

import pytest

from conduit.replay import Thresholds, compare, summarize
from tests.fixtures.replay.runs import recorded_run


def test_a_run_that_did_the_same_is_the_same_whatever_its_versions_and_latency() -> None:
    replayed = recorded_run(model="other-model", prompt_version="2+def", created_ms=5)

    comparison = compare(recorded_run(), replayed)

    assert comparison.verdict == "same", comparison.findings
    assert comparison.findings == ()


def test_a_different_answer_is_a_change() -> None:
    comparison = compare(recorded_run(), recorded_run(answer="Refunded 49.99 USD today."))

    assert comparison.verdict == "change", comparison.findings
    assert "answer text differs" in comparison.findings


def test_an_answer_lost_to_a_handoff_is_a_regression() -> None:
    comparison = compare(recorded_run(), recorded_run(answer=None))

    assert comparison.verdict == "regression"
    assert any(f.startswith("answer lost: handoff") for f in comparison.findings), (
        comparison.findings
    )


def test_an_empty_answer_is_a_regression() -> None:
    comparison = compare(recorded_run(), recorded_run(answer=" "))

    assert comparison.verdict == "regression"
    assert "answer is empty" in comparison.findings


def test_a_guardrail_that_now_stops_the_request_is_a_regression() -> None:
    blocked = recorded_run(guardrail=[("input", "pass"), ("output", "handoff")])

    comparison = compare(recorded_run(), blocked)

    assert "guardrail output now handoff (was pass)" in comparison.findings, comparison.findings
    assert comparison.verdict == "regression"


def test_a_lost_tool_call_is_a_regression_naming_the_call() -> None:
    fewer = recorded_run(tools=["lookup_invoice", "check_refund_policy"])

    comparison = compare(recorded_run(), fewer)

    assert comparison.verdict == "regression"
    assert comparison.findings[0] == 'tool call lost: issue_refund {"invoice_id": "INV-1001"}'
    assert "tool call sequence differs" in comparison.findings


def test_a_tool_call_that_now_fails_is_a_regression() -> None:
    comparison = compare(recorded_run(), recorded_run(failing_tool="issue_refund"))

    assert comparison.verdict == "regression"
    assert "tool call fails: issue_refund: TOOL_NOT_RECORDED" in comparison.findings


def test_an_extra_tool_call_is_only_a_change() -> None:
    more = recorded_run(
        tools=["lookup_invoice", "lookup_invoice", "check_refund_policy", "issue_refund"]
    )

    comparison = compare(recorded_run(), more)

    assert comparison.verdict == "change", comparison.findings


@pytest.mark.parametrize(
    ("replayed_cost", "verdict"),
    [(0.0011, "change"), (0.0025, "regression"), (0.0005, "change")],
    ids=["up-10%-is-within", "up-150%", "down"],
)
def test_cost_is_a_regression_only_past_the_threshold(replayed_cost: float, verdict: str) -> None:
    comparison = compare(
        recorded_run(cost_usd=0.001),
        recorded_run(cost_usd=replayed_cost),
        Thresholds(cost_increase=0.10),
    )

    assert comparison.verdict == verdict, comparison.findings
    assert any(f.startswith("cost") for f in comparison.findings), comparison.findings


def test_a_cost_from_nothing_is_a_regression() -> None:
    comparison = compare(recorded_run(cost_usd=0.0), recorded_run(cost_usd=0.0001))

    assert "cost up: 0.000000 -> 0.000100 USD" in comparison.findings, comparison.findings


def test_more_tokens_past_the_threshold_are_a_regression() -> None:
    comparison = compare(recorded_run(tokens=(300, 20)), recorded_run(tokens=(400, 20)))

    assert comparison.verdict == "regression"
    assert "tokens up: 320 -> 420 tokens (+31%)" in comparison.findings, comparison.findings


def test_a_summary_holds_what_the_report_shows() -> None:
    summary = summarize(recorded_run(tokens=(300, 20), cost_usd=0.002, model="scripted-basic"))

    assert summary.outcome == "answer"
    assert summary.tool_calls[0] == 'lookup_invoice {"invoice_id": "INV-1001"}', summary.tool_calls
    assert summary.guardrail == ("input: pass", "output: pass")
    assert (summary.input_tokens, summary.output_tokens) == (300, 20)
    assert summary.cost_usd == 0.002
    assert summary.model == "scripted-basic"
    assert summary.prompt == "refund_agent v1+abc"
    assert summary.latency_ms == 1.0, "latency runs from the request's creation to its last step"
