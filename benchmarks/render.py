"""Plain-text tables of a benchmark report for the terminal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned text columns, right-aligned numbers."""
    cells = [list(headers), *[[_cell(value) for value in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [all(_is_number(row[i]) for row in cells[1:]) for i in range(len(headers))]
    lines = [
        "  ".join(
            cell.rjust(width) if is_number else cell.ljust(width)
            for cell, width, is_number in zip(row, widths, numeric, strict=True)
        ).rstrip()
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join("  " + line for line in lines)


def render_mode(name: str, report: Mapping[str, Any]) -> str:
    e2e, steps_sum, overhead, per_hop = (
        report["end_to_end_ms"],
        report["steps_sum_ms"],
        report["bus_overhead_ms"],
        report["bus_overhead_per_hop_ms"],
    )
    load = " ".join(f"{x:.2f}" for x in report["load_average"]["before"])
    load_after = " ".join(f"{x:.2f}" for x in report["load_average"]["after"])
    outcomes = ", ".join(f"{k} {v}" for k, v in report["outcomes"].items())
    header = (
        f"=== {name}: {report['requests']} requests, concurrency {report['concurrency']}, "
        f"{report['wall_s']:.2f} s, {report['throughput_rps']:.1f} req/s ===\n"
        f"  load average (1/5/15 min) before {load}, after {load_after} "
        f"on {report['cpus']} CPUs; outcomes: {outcomes}"
    )
    latency = table(
        ("end to end (ms)", "p50", "p95", "p99"),
        [("all requests", e2e["p50"], e2e["p95"], e2e["p99"])]
        + [
            (f"{workflow} (n={w['count']})", w["p50"], w["p95"], w["p99"])
            for workflow, w in report["workflows"].items()
        ],
    )
    steps = table(
        ("service", "step", "calls", "p50 ms", "p95 ms"),
        [(s["service"], s["step"], s["calls"], s["p50"], s["p95"]) for s in report["steps"]]
        + [
            (
                "(sum of steps)",
                "per request",
                report["answered"],
                steps_sum["p50"],
                steps_sum["p95"],
            ),
            ("(bus overhead)", "e2e - steps", report["answered"], overhead["p50"], overhead["p95"]),
            ("(bus overhead)", "per hop", report["answered"], per_hop["p50"], per_hop["p95"]),
        ],
    )
    return f"{header}\n\n{latency}\n\n{steps}"


def render_telemetry_cost(reports: Mapping[str, Mapping[str, Any]]) -> str | None:
    """Latency and throughput with telemetry off vs. on, for each pair of modes run."""
    rows = []
    for mode, off in reports.items():
        on = reports.get(f"{mode}-traced")
        if on is None:
            continue
        off_ms, on_ms = off["end_to_end_ms"], on["end_to_end_ms"]
        rows.append(
            (
                mode,
                off_ms["p50"],
                on_ms["p50"],
                on_ms["p50"] - off_ms["p50"],
                f"{(on_ms['p50'] / off_ms['p50'] - 1) * 100:+.1f}%",
                off_ms["p95"],
                on_ms["p95"],
                off["throughput_rps"],
                on["throughput_rps"],
            )
        )
    if not rows:
        return None
    headers = (
        "telemetry off vs on", "p50 off", "p50 on", "p50 delta", "p50 change",
        "p95 off", "p95 on", "req/s off", "req/s on",
    )  # fmt: skip
    return "=== what telemetry costs (end to end, ms) ===\n" + table(headers, rows)


def _cell(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
