"""What `make bench` writes from its figures: the headline table and the PNG chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.chart import write_chart
from benchmarks.render import HEADLINE_HEADERS, headline_rows, markdown_table

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _cell(concurrency: int, scale: float, floor: bool) -> dict[str, Any]:
    def spread(p50: float) -> dict[str, float]:
        return {"p50": p50 * scale, "p95": 2 * p50 * scale, "p99": 3 * p50 * scale}

    per_hop = spread(1.0)
    return {
        "concurrency": concurrency,
        "answered": 10 * concurrency,
        "end_to_end_ms": spread(100.0),
        "overhead_ms": spread(16.0),
        "overhead_per_hop_ms": per_hop,
        "overhead_per_hop_above_floor_ms": {"p50": per_hop["p50"] - 0.5} if floor else None,
        "throughput_rps": 5.0 * scale,
        "cpu_ms_per_request": {"total": 250.0, "benchmark process": 250.0},
        "load_average": {"before": [1.5, 1.0, 0.5], "after": [2.5, 1.2, 0.6]},
    }


def _report() -> dict[str, Any]:
    """A report shaped as `benchmarks.pipeline` writes it, with made-up figures."""
    return {
        "model": "deterministic zero-latency SCRIPTED STAND-IN model; in-process tools",
        "machine": {"cpu": "Test CPU", "cpus": 2},
        "targets": {
            "embedded": {
                "hop_floor_ms": None,
                "cells": [_cell(c, c, floor=False) for c in (1, 16, 64)],
            },
            "kafka": {
                "hop_floor_ms": {"p50": 0.5, "p95": 0.9, "p99": 1.5},
                "cells": [_cell(c, 2 * c, floor=True) for c in (1, 16, 64)],
            },
        },
    }


def test_the_headline_has_one_row_per_target_and_concurrency() -> None:
    rows = headline_rows(_report()["targets"])
    assert [(row[0], row[1]) for row in rows] == [
        ("embedded", 1), ("embedded", 16), ("embedded", 64),
        ("kafka", 1), ("kafka", 16), ("kafka", 64),
    ]  # fmt: skip
    assert all(len(row) == len(HEADLINE_HEADERS) for row in rows), "rows and headers differ"


def test_a_headline_row_carries_the_cells_figures_in_header_order() -> None:
    row = dict(zip(HEADLINE_HEADERS, headline_rows(_report()["targets"])[4], strict=True))
    assert row["requests"] == 160
    assert (row["e2e p50 ms"], row["e2e p99 ms"]) == (3200.0, 9600.0)
    assert (row["overhead p50 ms"], row["overhead p95 ms"]) == (512.0, 1024.0)
    assert (row["per hop p50 ms"], row["above floor p50 ms"]) == (32.0, 31.5)
    assert (row["req/s"], row["CPU ms/req"]) == (160.0, 250.0)


def test_without_a_broker_the_headline_says_there_is_no_floor() -> None:
    row = dict(zip(HEADLINE_HEADERS, headline_rows(_report()["targets"])[0], strict=True))
    assert row["above floor p50 ms"] == "n/a (no broker)"


def test_the_markdown_table_has_a_header_a_rule_and_one_line_per_row() -> None:
    text = markdown_table(("target", "p50 ms"), [("kafka", 1.5), ("embedded", 0.25)])
    assert text.splitlines() == [
        "| target | p50 ms |",
        "| --- | --- |",
        "| kafka | 1.50 |",
        "| embedded | 0.25 |",
    ]


def test_the_chart_is_written_as_a_png(tmp_path: Path) -> None:
    path = tmp_path / "results" / "pipeline.png"
    write_chart(_report(), path)
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE), "the chart file is not a PNG"
    assert len(data) > 10_000, f"a {len(data)}-byte PNG cannot hold four panels"
