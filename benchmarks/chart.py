"""The chart of a `make bench` report: latency, overhead per hop, throughput and CPU.

Example: `write_chart(json.loads(Path("bench/results/pipeline.json").read_text()), png)`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

BAR_GROUP_WIDTH = 0.8


def write_chart(report: Mapping[str, Any], path: Path) -> None:
    """Four panels over concurrency, one line or bar per target, written as a PNG."""
    targets: Mapping[str, Mapping[str, Any]] = report["targets"]
    # A bare Figure draws with Agg: no display, no pyplot state shared with other charts.
    figure = Figure(figsize=(13, 9), layout="constrained")
    latency, per_hop, throughput, cpu = figure.subplots(2, 2).flat
    _lines(latency, targets, "end_to_end_ms", "end to end latency (ms)")
    colours = _lines(per_hop, targets, "overhead_per_hop_ms", "orchestration overhead per hop (ms)")
    for name, target in targets.items():
        floor = target.get("hop_floor_ms")
        if floor is not None:
            per_hop.axhline(floor["p50"], color=colours[name], linestyle=":",
                            label=f"{name}: produce→consume floor p50")  # fmt: skip
    per_hop.legend(fontsize=8)
    _bars(throughput, targets, lambda cell: cell["throughput_rps"], "throughput (requests/s)")
    _bars(cpu, targets, lambda cell: cell["cpu_ms_per_request"]["total"], "CPU ms per request")
    figure.suptitle(
        f"refund workflow — {report['model']}\n{report['machine']['cpu']}, "
        f"{report['machine']['cpus']} CPUs, 1-min load average up to {_peak_load(targets):.1f} "
        "(other work included); p50 solid, p99 dashed"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)


def _lines(
    axes: Axes, targets: Mapping[str, Mapping[str, Any]], key: str, title: str
) -> dict[str, str]:
    """p50 and p99 of `key` over concurrency per target; returns each target's colour."""
    colours = {}
    for name, target in targets.items():
        cells = target["cells"]
        levels = [cell["concurrency"] for cell in cells]
        (p50,) = axes.plot(levels, [c[key]["p50"] for c in cells], marker="o", label=name)
        colours[name] = to_hex(p50.get_color())
        axes.plot(levels, [c[key]["p99"] for c in cells], linestyle="--", color=colours[name])
    axes.set_xscale("log", base=2)
    axes.set_xticks(_levels(targets), labels=[str(level) for level in _levels(targets)])
    axes.set_yscale("log")
    axes.set_xlabel("concurrency (requests in flight)")
    axes.set_title(title)
    axes.legend(fontsize=8)
    return colours


def _bars(
    axes: Axes,
    targets: Mapping[str, Mapping[str, Any]],
    value: Callable[[Mapping[str, Any]], float],
    title: str,
) -> None:
    levels = _levels(targets)
    width = BAR_GROUP_WIDTH / max(len(targets), 1)
    for offset, (name, target) in enumerate(targets.items()):
        by_level = {cell["concurrency"]: value(cell) for cell in target["cells"]}
        positions = [i + offset * width for i, level in enumerate(levels) if level in by_level]
        axes.bar(positions, [by_level[level] for level in levels if level in by_level],
                 width=width, label=name)  # fmt: skip
    axes.set_xticks([i + width * (len(targets) - 1) / 2 for i in range(len(levels))])
    axes.set_xticklabels([f"concurrency {level}" for level in levels])
    axes.set_title(title)
    axes.legend(fontsize=8)


def _levels(targets: Mapping[str, Mapping[str, Any]]) -> Sequence[int]:
    return sorted({cell["concurrency"] for target in targets.values() for cell in target["cells"]})


def _peak_load(targets: Mapping[str, Mapping[str, Any]]) -> float:
    one_minute: list[float] = [
        cell["load_average"][when][0]
        for target in targets.values()
        for cell in target["cells"]
        for when in ("before", "after")
    ]
    return max(one_minute)
