"""The pipeline benchmark's arithmetic: percentiles, overhead, per hop, CPU per request."""

from __future__ import annotations

import math

import pytest

from benchmarks.stats import (
    Sample,
    StepTiming,
    above_floor_ms,
    cpu_ms_per_request,
    percentile,
    spread_ms,
    summarize,
)
from shared.contracts import Answer, Response, StepRecord


def _sample(end_to_end_us: int, step_durations_us: list[int], outcome: str = "answer") -> Sample:
    steps = tuple(StepTiming("svc", f"step{i}", d) for i, d in enumerate(step_durations_us))
    return Sample("refund", outcome, end_to_end_us, steps)


def test_percentile_interpolates_between_closest_ranks() -> None:
    values = [10.0, 20.0, 30.0, 40.0]
    assert percentile(values, 0) == 10.0, "p0 is not the minimum"
    assert percentile(values, 100) == 40.0, "p100 is not the maximum"
    assert percentile(values, 50) == 25.0, "p50 of four values is not their middle pair's mean"
    assert percentile(values, 90) == pytest.approx(37.0), "p90 not interpolated at rank 2.7"


def test_percentile_does_not_depend_on_the_order_of_values() -> None:
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0, "values were not sorted before ranking"


def test_percentile_of_nothing_is_nan_not_zero() -> None:
    assert math.isnan(percentile([], 50)), "an empty run reported a latency"


def test_spread_is_in_milliseconds_for_the_asked_quantiles() -> None:
    assert spread_ms([1_000, 2_000, 3_000], (50, 99)) == {"p50": 2.0, "p99": 2.98}


def test_overhead_is_end_to_end_minus_time_inside_steps() -> None:
    sample = _sample(10_000, [2_000, 3_000, 1_000])
    assert sample.steps_us == 6_000, "time inside steps is not the sum of step durations"
    assert sample.overhead_us == 4_000, "overhead is not end to end minus steps"


def test_a_request_of_n_steps_crosses_the_bus_n_plus_one_times() -> None:
    sample = _sample(10_000, [2_000, 3_000, 1_000])
    assert sample.hops == 4, "client→first step, two between steps and last step→client"
    assert sample.overhead_per_hop_us == 1_000.0, "per-hop overhead is not overhead / hops"


def test_a_sample_from_a_response_keeps_its_outcome_and_step_timings() -> None:
    response = Response(
        answer=Answer(text="refunded"),
        steps=[StepRecord(service="intent", step="classify", duration_us=1_500)],
    )
    sample = Sample.of("refund", response, end_to_end_us=5_000)
    assert sample.outcome == "answer", f"outcome read as {sample.outcome!r}"
    assert sample.steps == (StepTiming("intent", "classify", 1_500),)
    assert sample.overhead_us == 3_500


def test_summary_leaves_timeouts_out_of_latency_but_counts_them() -> None:
    samples = [_sample(10_000, [6_000]), _sample(20_000, [6_000]), _sample(90_000, [], "timeout")]
    report = summarize(samples, wall_s=2.0, cpu_s={"this": 0.5})
    assert (report["requests"], report["answered"]) == (3, 2)
    assert report["outcomes"] == {"answer": 2, "timeout": 1}
    assert report["throughput_rps"] == 1.0, "throughput counts only answered requests"
    assert report["end_to_end_ms"] == {"p50": 15.0, "p95": 19.5, "p99": 19.9}
    assert report["overhead_ms"] == {"p50": 9.0, "p95": 13.5, "p99": 13.9}
    assert report["overhead_per_hop_ms"] == {"p50": 4.5, "p95": 6.75, "p99": 6.95}


def test_summary_reports_cpu_per_answered_request() -> None:
    samples = [_sample(10_000, [6_000]), _sample(90_000, [], "timeout")]
    report = summarize(samples, wall_s=1.0, cpu_s={"bench": 0.2, "services": 0.1})
    assert report["cpu_ms_per_request"] == {"total": 300.0, "bench": 200.0, "services": 100.0}


def test_summary_without_a_broker_has_no_overhead_above_the_floor() -> None:
    report = summarize([_sample(10_000, [6_000])], wall_s=1.0, cpu_s={})
    assert report["overhead_per_hop_above_floor_ms"] is None


def test_summary_with_a_floor_reports_per_hop_overhead_above_it() -> None:
    floor = {"p50": 0.5, "p95": 1.0, "p99": 2.0}
    report = summarize([_sample(10_000, [6_000])], wall_s=1.0, cpu_s={}, floor_ms=floor)
    assert report["overhead_per_hop_above_floor_ms"] == {"p50": 1.5, "p95": 1.0, "p99": 0.0}


def test_above_floor_only_compares_percentiles_both_sides_have() -> None:
    assert above_floor_ms({"p50": 3.0, "p99": 9.0}, {"p50": 1.0, "p95": 2.0}) == {"p50": 2.0}


def test_cpu_per_request_of_no_answered_request_is_nan() -> None:
    per_request = cpu_ms_per_request({"bench": 1.0}, 0)
    assert all(math.isnan(ms) for ms in per_request.values()), per_request
