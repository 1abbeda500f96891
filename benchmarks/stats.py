"""What one benchmark request measured, and the percentiles summarising a run."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from statistics import median

from shared.contracts import Response


@dataclass(frozen=True)
class StepTiming:
    service: str
    step: str
    duration_us: int


@dataclass(frozen=True)
class Sample:
    """One request: `Sample.of("refund", response, end_to_end_us=31_000).overhead_us`."""

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
        """Time inside step handlers, as each step measured itself."""
        return sum(step.duration_us for step in self.steps)

    @property
    def overhead_us(self) -> int:
        """Orchestration overhead: end to end minus the time inside step handlers.

        What is left is the client's publish and wait, every bus crossing (serialising,
        the broker or in-memory queue, the consumer's fetch, parsing), routing to the next
        step, and queueing: for a free consumer slot, or for the event loop while it runs
        other requests' steps.
        """
        return self.end_to_end_us - self.steps_us

    @property
    def hops(self) -> int:
        """Bus crossings: client to the first step, between steps, last step to client."""
        return len(self.steps) + 1

    @property
    def overhead_per_hop_us(self) -> float:
        return self.overhead_us / self.hops


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
    values_us: Iterable[float], quantiles: Sequence[int] = (50, 95, 99)
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


def summarize(
    samples: Sequence[Sample],
    *,
    wall_s: float,
    cpu_s: Mapping[str, float],
    floor_ms: Mapping[str, float] | None = None,
) -> dict[str, object]:
    """The JSON report of one run of measured requests; timeouts count only as outcomes.

    `cpu_s` is the CPU seconds each group of processes spent during the run; it is
    reported per answered request. `floor_ms`, the spread of one bare hop over the same
    broker, gives the overhead per hop above it (None without a broker).
    """
    answered = [s for s in samples if s.outcome != "timeout"]
    per_hop_ms = spread_ms(s.overhead_per_hop_us for s in answered)
    return {
        "requests": len(samples),
        "answered": len(answered),
        "outcomes": dict(Counter(s.outcome for s in samples)),
        "wall_s": round(wall_s, 3),
        "throughput_rps": round(len(answered) / wall_s, 2) if wall_s > 0 else 0.0,
        "hops_per_request": round(median(s.hops for s in answered), 1) if answered else 0,
        "end_to_end_ms": spread_ms(s.end_to_end_us for s in answered),
        "in_steps_ms": spread_ms(s.steps_us for s in answered),
        "overhead_ms": spread_ms(s.overhead_us for s in answered),
        "overhead_per_hop_ms": per_hop_ms,
        "overhead_per_hop_above_floor_ms": None
        if floor_ms is None
        else above_floor_ms(per_hop_ms, floor_ms),
        "cpu_ms_per_request": cpu_ms_per_request(cpu_s, len(answered)),
        "steps": step_table(answered),
    }


def cpu_ms_per_request(cpu_s: Mapping[str, float], requests: int) -> dict[str, float]:
    """`{"total": .., <group>: ..}`: CPU milliseconds per request, rounded to 0.01 ms."""
    if requests == 0:
        return {"total": float("nan"), **{group: float("nan") for group in cpu_s}}
    per_request = {group: seconds * 1000 / requests for group, seconds in cpu_s.items()}
    return {
        name: round(ms, 2)
        for name, ms in {"total": sum(per_request.values()), **per_request}.items()
    }


def above_floor_ms(
    per_hop_ms: Mapping[str, float], floor_ms: Mapping[str, float]
) -> dict[str, float]:
    """Per-hop overhead minus the bare produce→consume hop, percentile by percentile."""
    return {q: round(per_hop_ms[q] - floor_ms[q], 3) for q in floor_ms if q in per_hop_ms}
