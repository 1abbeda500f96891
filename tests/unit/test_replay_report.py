"""The replay report: regressions first, a summary of both runs, recorded text escaped."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from conduit.replay import ReplayReport, compare, render_html, render_markdown
from tests.fixtures.replay.runs import recorded_run

HOSTILE = "<script>alert('x')</script> | **bold** & co"


def _report() -> ReplayReport:
    same = compare(recorded_run(request_id="same-1"), recorded_run(request_id="same-1"))
    changed = compare(
        recorded_run(request_id="change-1"), recorded_run(request_id="change-1", answer="Other.")
    )
    regressed = compare(
        recorded_run(request_id="regress-1", question=HOSTILE, cost_usd=0.001),
        recorded_run(request_id="regress-1", question=HOSTILE, answer=None, cost_usd=0.003),
    )
    return ReplayReport([same, changed, regressed], overrides="prompt refund_agent=9")


def test_markdown_lists_regressions_then_changes_then_the_same() -> None:
    markdown = render_markdown(_report())

    headings = re.findall(r"^### (\S+)", markdown, flags=re.MULTILINE)
    assert headings == ["regress-1", "change-1", "same-1"], headings
    sections = re.findall(r"^## (\w+)", markdown, flags=re.MULTILINE)
    assert sections == ["Regressions", "Changes", "Same"], sections


def test_html_lists_regressions_then_changes_then_the_same() -> None:
    page = render_html(_report())

    classes = re.findall(r'<section class="(\w+)">', page)
    assert classes == ["regression", "change", "same"], classes


def test_the_summary_gives_counts_total_cost_and_p50_latency_of_both_runs() -> None:
    markdown = render_markdown(_report())

    assert "3 requests replayed: 1 regressions, 1 changes, 1 the same" in markdown
    assert "| total cost (USD) | 0.003000 | 0.005000 |" in markdown, markdown
    assert "| answered | 3 of 3 | 2 of 3 |" in markdown, markdown
    assert "| p50 latency (ms) | 1.0 | 1.0 |" in markdown, markdown


def test_a_request_section_shows_recorded_and_replayed_side_by_side() -> None:
    markdown = render_markdown(_report())

    assert "| cost (USD) | 0.001000 | 0.003000 |" in markdown, markdown
    assert "| model | scripted-basic | scripted-basic |" in markdown, markdown
    assert "- answer lost: handoff (output check failed)" in markdown, markdown


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_escapes_recorded_text_and_loads_nothing_external() -> None:
    page = render_html(_report())
    elements = _Elements()
    elements.feed(page)

    assert "script" not in elements.tags, "recorded text became markup"
    assert any(HOSTILE in text for text in elements.text), "the request text is not shown as text"
    assert not re.search(r"(src|href)=", page), "the page must not load anything"


def test_markdown_keeps_recorded_text_from_breaking_the_tables() -> None:
    markdown = render_markdown(_report())

    escaped = r"Request: \<script>alert('x')\</script> \| \*\*bold\*\* & co"
    assert escaped in markdown.splitlines(), "table and markup characters must be escaped"
