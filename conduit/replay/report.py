"""The replay report, as Markdown and as one self-contained HTML page, regressions first.

Both render the same content: a summary (counts, total cost and tokens, p50 latency,
recorded and replayed), then one section per request, regressions, then changes, then
the requests that came out the same. Every recorded value is escaped for its format.

Example::

    report = ReplayReport(comparisons, overrides="prompt refund_agent=2")
    Path("replay-report.md").write_text(render_markdown(report))
    Path("replay-report.html").write_text(render_html(report))
"""

from __future__ import annotations

import html
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from conduit.deadletters import one_line
from conduit.replay.compare import NO_RESPONSE, Comparison, RunSummary, Verdict

VERDICT_ORDER: tuple[Verdict, ...] = ("regression", "change", "same")
HEADINGS = {"regression": "Regressions", "change": "Changes", "same": "Same"}
CELL_CHARS = 300
LATENCY_NOTE = (
    "Latency: recorded where the requests ran, replayed in one process on the in-memory bus "
    "with tools answered from the recording; compare replays with replays."
)


@dataclass(frozen=True)
class ReplayReport:
    comparisons: Sequence[Comparison]
    overrides: str

    def ordered(self) -> list[Comparison]:
        """Regressions first, then changes, then the same; recorded order within each."""
        return sorted(self.comparisons, key=lambda c: VERDICT_ORDER.index(c.verdict))

    def count(self, verdict: Verdict) -> int:
        return sum(1 for c in self.comparisons if c.verdict == verdict)

    def summary_rows(self) -> list[tuple[str, str, str]]:
        recorded = [c.recorded for c in self.comparisons]
        replayed = [c.replayed for c in self.comparisons]
        return [
            ("answered", _answered(recorded), _answered(replayed)),
            ("total cost (USD)", _total_cost(recorded), _total_cost(replayed)),
            ("tokens in / out", _tokens(recorded), _tokens(replayed)),
            ("p50 latency (ms)", _p50_latency(recorded), _p50_latency(replayed)),
        ]


def request_rows(comparison: Comparison) -> list[tuple[str, str, str]]:
    """(field, recorded, replayed) for one request's section."""
    before, after = comparison.recorded, comparison.replayed

    def row(name: str, value: Callable[[RunSummary], str]) -> tuple[str, str, str]:
        return (name, value(before), value(after))

    return [
        row("outcome", lambda s: s.outcome),
        row("answer", lambda s: s.answer or "-"),
        row("tool calls", lambda s: "; ".join(s.tool_calls) or "-"),
        row("guardrail", lambda s: "; ".join(s.guardrail) or "-"),
        row("tokens in / out", lambda s: f"{s.input_tokens} / {s.output_tokens}"),
        row("cost (USD)", lambda s: f"{s.cost_usd:.6f}"),
        row("latency (ms)", lambda s: f"{s.latency_ms:.1f}"),
        row("prompt", lambda s: s.prompt),
        row("model", lambda s: s.model),
        row("workflow", lambda s: s.workflow),
    ]


def render_markdown(report: ReplayReport) -> str:
    lines = [
        "# Replay report",
        "",
        f"Overrides: {_md(report.overrides)}",
        "",
        counts_line(report),
        "",
        "| | recorded | replayed |",
        "|---|---|---|",
        *(f"| {name} | {was} | {now} |" for name, was, now in report.summary_rows()),
        "",
        LATENCY_NOTE,
    ]
    for verdict in VERDICT_ORDER:
        section = [c for c in report.ordered() if c.verdict == verdict]
        if not section:
            continue
        lines += ["", f"## {HEADINGS[verdict]}"]
        for comparison in section:
            lines += [
                "",
                f"### {_md(comparison.request_id)} (tenant {_md(comparison.tenant_id)})",
                "",
                f"Request: {_md(comparison.question)}",
                "",
                *(f"- {_md(finding)}" for finding in comparison.findings),
                *([""] if comparison.findings else []),
                "| | recorded | replayed |",
                "|---|---|---|",
                *(
                    f"| {name} | {_md(was)} | {_md(now)} |"
                    for name, was, now in request_rows(comparison)
                ),
            ]
    return "\n".join(lines) + "\n"


def render_html(report: ReplayReport) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>Replay report</title>',
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Replay report</h1>",
        f"<p>Overrides: {html.escape(report.overrides)}</p>",
        f"<p>{html.escape(counts_line(report))}</p>",
        _html_table(report.summary_rows()),
        f"<p>{html.escape(LATENCY_NOTE)}</p>",
    ]
    for verdict in VERDICT_ORDER:
        section = [c for c in report.ordered() if c.verdict == verdict]
        if not section:
            continue
        parts.append(f"<h2>{HEADINGS[verdict]}</h2>")
        for comparison in section:
            parts += [
                f'<section class="{verdict}">',
                f"<h3>{html.escape(comparison.request_id)} "
                f"(tenant {html.escape(comparison.tenant_id)})</h3>",
                f"<p>Request: {html.escape(comparison.question)}</p>",
            ]
            if comparison.findings:
                items = "".join(f"<li>{html.escape(f)}</li>" for f in comparison.findings)
                parts.append(f"<ul>{items}</ul>")
            parts += [_html_table(request_rows(comparison)), "</section>"]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


_STYLE = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}"
    "section{margin:1em 0;padding:0 1em;border-left:6px solid #ccc}"
    ".regression{border-color:#c0392b}.change{border-color:#e67e22}.same{border-color:#27ae60}"
)


def _html_table(rows: Sequence[tuple[str, str, str]]) -> str:
    body = "".join(
        f"<tr><th>{html.escape(name)}</th><td>{html.escape(was)}</td>"
        f"<td>{html.escape(now)}</td></tr>"
        for name, was, now in rows
    )
    return f"<table><tr><th></th><th>recorded</th><th>replayed</th></tr>{body}</table>"


def _md(text: str) -> str:
    """One line, cut, with Markdown's table and markup characters taken literally."""
    flat = one_line(text, CELL_CHARS)
    for char in "\\|*`<[]":
        flat = flat.replace(char, f"\\{char}")
    return flat


def counts_line(report: ReplayReport) -> str:
    return (
        f"{len(report.comparisons)} requests replayed: {report.count('regression')} "
        f"regressions, {report.count('change')} changes, {report.count('same')} the same"
    )


def _answered(runs: Sequence[RunSummary]) -> str:
    return f"{sum(run.answered for run in runs)} of {len(runs)}"


def _total_cost(runs: Sequence[RunSummary]) -> str:
    return f"{sum(run.cost_usd for run in runs):.6f}"


def _tokens(runs: Sequence[RunSummary]) -> str:
    return f"{sum(r.input_tokens for r in runs)} / {sum(r.output_tokens for r in runs)}"


def _p50_latency(runs: Sequence[RunSummary]) -> str:
    latencies = [run.latency_ms for run in runs if run.outcome != NO_RESPONSE]
    return f"{statistics.median(latencies):.1f}" if latencies else "-"
