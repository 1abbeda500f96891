"""What one benchmark request measured, and the percentiles summarising a run."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from shared.contracts import Response


@dataclass(frozen=True)
class StepTiming:
    service: str
    step: str
    duration_us: int


@dataclass(frozen=True)
class Sample:
    """One request: `Sample.of("refund", response, end_to_end_us=31_000).bus_overhead_us`."""

    workflow: str
    outcome: str
    end_to_end_us: int
    steps: tuple[StepTiming, ...]

    @classmethod
    def of(cls, workflow: str, response: Response, *, end_to_end_us: int) -> Sample:
        return cls(
            workflow=workflow,
            outcome=response.WhichOneof("outcome") or "none",
            end_to_end_us=end_to_end_us,
            steps=tuple(StepTiming(s.service, s.step, s.duration_us) for s in response.steps),
        )

    @property
    def steps_us(self) -> int:
        return sum(step.duration_us for step in self.steps)

    @property
    def bus_overhead_us(self) -> int:
        """Client-measured time not spent inside any step: transport and queueing."""
        return self.end_to_end_us - self.steps_us

    @property
    def hops(self) -> int:
        """Bus crossings: client to the first step, between steps, last step to client."""
        return len(self.steps) + 1


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks, `q` in [0, 100]."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def spread_ms(
    values_us: Iterable[int], quantiles: Sequence[int] = (50, 95, 99)
) -> dict[str, float]:
    """`{"p50": .., "p95": .., "p99": ..}` in milliseconds, rounded to microseconds."""
    values = [v / 1000 for v in values_us]
    return {f"p{q}": round(percentile(values, q), 3) for q in quantiles}


def step_table(samples: Sequence[Sample]) -> list[dict[str, object]]:
    """p50/p95 per (service, step), in the order steps first ran."""
    durations: dict[tuple[str, str], list[int]] = {}
    for sample in samples:
        for step in sample.steps:
            durations.setdefault((step.service, step.step), []).append(step.duration_us)
    return [
        {"service": service, "step": step, "calls": len(values), **spread_ms(values, (50, 95))}
        for (service, step), values in durations.items()
    ]


def summarize(samples: Sequence[Sample], *, wall_s: float) -> dict[str, object]:
    """The JSON report of one mode's measured requests (timeouts count only as outcomes)."""
    answered = [s for s in samples if s.outcome != "timeout"]
    outcomes: dict[str, int] = {}
    for sample in samples:
        outcomes[sample.outcome] = outcomes.get(sample.outcome, 0) + 1
    workflows = dict.fromkeys(s.workflow for s in answered)
    return {
        "requests": len(samples),
        "answered": len(answered),
        "wall_s": round(wall_s, 3),
        "throughput_rps": round(len(answered) / wall_s, 2) if wall_s > 0 else 0.0,
        "outcomes": outcomes,
        "end_to_end_ms": spread_ms(s.end_to_end_us for s in answered),
        "steps_sum_ms": spread_ms((s.steps_us for s in answered), (50, 95)),
        "bus_overhead_ms": spread_ms((s.bus_overhead_us for s in answered), (50, 95)),
        "bus_overhead_per_hop_ms": spread_ms(
            (s.bus_overhead_us // s.hops for s in answered), (50, 95)
        ),
        "workflows": {
            name: {
                "count": sum(1 for s in answered if s.workflow == name),
                **spread_ms(s.end_to_end_us for s in answered if s.workflow == name),
            }
            for name in workflows
        },
        "steps": step_table(answered),
    }
