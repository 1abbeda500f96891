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


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """The same cells as a GitHub-flavoured Markdown table."""
    lines = [headers, ["---"] * len(headers), *[[_cell(value) for value in row] for row in rows]]
    return "\n".join("| " + " | ".join(str(cell) for cell in line) + " |" for line in lines)


SPREAD = ("p50", "p95", "p99")
HEADLINE_HEADERS = (
    "target", "concurrency", "requests", "e2e p50 ms", "e2e p95 ms", "e2e p99 ms",
    "overhead p50 ms", "overhead p95 ms", "overhead p99 ms", "per hop p50 ms",
    "above floor p50 ms", "req/s", "CPU ms/req",
)  # fmt: skip


def headline_rows(targets: Mapping[str, Mapping[str, Any]]) -> list[tuple[object, ...]]:
    """One row per (target, concurrency) cell of a pipeline report's `targets`."""
    rows = []
    for name, target in targets.items():
        for cell in target["cells"]:
            e2e, overhead = cell["end_to_end_ms"], cell["overhead_ms"]
            above = cell["overhead_per_hop_above_floor_ms"]
            rows.append(
                (
                    name,
                    cell["concurrency"],
                    cell["answered"],
                    *(e2e[q] for q in SPREAD),
                    *(overhead[q] for q in SPREAD),
                    cell["overhead_per_hop_ms"]["p50"],
                    "n/a (no broker)" if above is None else above["p50"],
                    cell["throughput_rps"],
                    cell["cpu_ms_per_request"]["total"],
                )
            )
    return rows


def render_cell(target: str, cell: Mapping[str, Any]) -> str:
    load = " ".join(f"{x:.2f}" for x in cell["load_average"]["before"])
    load_after = " ".join(f"{x:.2f}" for x in cell["load_average"]["after"])
    outcomes = ", ".join(f"{k} {v}" for k, v in cell["outcomes"].items())
    cpu = ", ".join(f"{group} {ms}" for group, ms in cell["cpu_ms_per_request"].items())
    header = (
        f"=== {target}, concurrency {cell['concurrency']}: {cell['requests']} requests "
        f"after {cell['warmup']} unmeasured, {cell['wall_s']:.2f} s, "
        f"{cell['throughput_rps']:.1f} req/s ===\n"
        f"  outcomes: {outcomes}; refunds paid {cell['refunds_paid']}\n"
        f"  CPU ms per request: {cpu}\n"
        f"  load average (1/5/15 min) before {load}, after {load_after}"
    )
    spreads = table(
        ("per request (ms)", "p50", "p95", "p99"),
        [
            (label, cell[key]["p50"], cell[key]["p95"], cell[key]["p99"])
            for label, key in (
                ("end to end", "end_to_end_ms"),
                ("inside steps", "in_steps_ms"),
                ("overhead (e2e - steps)", "overhead_ms"),
                (f"overhead per hop ({cell['hops_per_request']} hops)", "overhead_per_hop_ms"),
            )
        ],
    )
    steps = table(
        ("service", "step", "calls", "p50 ms", "p95 ms"),
        [(s["service"], s["step"], s["calls"], s["p50"], s["p95"]) for s in cell["steps"]],
    )
    return f"{header}\n\n{spreads}\n\n{steps}"


def render_telemetry_cost(targets: Mapping[str, Mapping[str, Any]]) -> str | None:
    """Latency and throughput with telemetry off vs. on, per concurrency, for each pair of
    targets run (`kafka` and `kafka-traced`, say)."""
    rows = []
    for name, off_target in targets.items():
        on_target = targets.get(f"{name}-traced")
        if on_target is None:
            continue
        on_cells = {cell["concurrency"]: cell for cell in on_target["cells"]}
        for off in off_target["cells"]:
            on = on_cells.get(off["concurrency"])
            if on is None:
                continue
            off_ms, on_ms = off["end_to_end_ms"], on["end_to_end_ms"]
            rows.append(
                (
                    name,
                    off["concurrency"],
                    off_ms["p50"],
                    on_ms["p50"],
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
        "telemetry off vs on", "concurrency", "p50 off", "p50 on", "p50 change",
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
