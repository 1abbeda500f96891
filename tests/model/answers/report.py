"""The strict figures of a run: per workflow and per outcome (model answer, regenerated,
template, person, error), the two rules the suite enforces, and the JSON record.

Rules: no wrong answer delivered and no wrong side effect (`wrong` is 0), and at least
`MIN_ANSWERED` of the conversations answered (by the model or the template); the rest go to a
person. A conversation that ends in an error or waits for approval is neither.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from tests.model.answers.dataset import WORKFLOWS
from tests.model.answers.judge import ANSWERED, OUTCOMES, Judgement

__all__ = ["MIN_ANSWERED", "record", "render", "rule_failures", "summarise"]

MIN_ANSWERED = 0.95
VERDICTS = ("correct", "wrong", "person", "unanswered")


def summarise(judgements: Sequence[Judgement]) -> dict[str, Any]:
    workflows = [w for w in WORKFLOWS if any(j.conversation.workflow == w for j in judgements)]
    outcomes = list(OUTCOMES) + sorted({j.outcome for j in judgements} - set(OUTCOMES))
    return {
        "total": _figures(judgements),
        "by_workflow": {
            workflow: _figures([j for j in judgements if j.conversation.workflow == workflow])
            for workflow in workflows
        },
        "by_outcome": {
            outcome: _figures([j for j in judgements if j.outcome == outcome])
            for outcome in outcomes
        },
        "rules": {
            "min_answered": MIN_ANSWERED,
            "failures": rule_failures(judgements),
        },
    }


def rule_failures(judgements: Sequence[Judgement]) -> list[str]:
    """What the run breaks of the suite's rules; empty when it keeps them."""
    if not judgements:
        return ["no conversation was judged"]
    failures = []
    wrong = [j for j in judgements if j.verdict == "wrong"]
    if wrong:
        delivered = sum(j.answered for j in wrong)
        failures.append(
            f"{len(wrong)} wrong ({delivered} wrong answers delivered, "
            f"{len(wrong) - delivered} wrong side effects behind a handoff or error): "
            + ", ".join(j.conversation.id for j in wrong)
        )
    answered = sum(j.answered for j in judgements)
    if answered < MIN_ANSWERED * len(judgements):
        failures.append(
            f"{answered}/{len(judgements)} answered ({answered / len(judgements):.0%}), "
            f"below {MIN_ANSWERED:.0%}"
        )
    return failures


def render(summary: dict[str, Any]) -> str:
    """Two tables: per workflow and per outcome, then the rules."""
    header = (
        f"{'':18} {'n':>4} {'correct':>8} {'wrong':>6} {'person':>7} {'unanswered':>11} "
        f"{'answered':>9}"
    )
    lines = ["per workflow", header]
    for name, figures in summary["by_workflow"].items():
        lines.append(_row(name, figures))
    lines.append(_row("all", summary["total"]))
    lines.extend(["", "per outcome", header])
    lines.extend(
        _row(name, figures)
        for name, figures in summary["by_outcome"].items()
        if figures["conversations"]
    )
    failures = summary["rules"]["failures"]
    lines.append("")
    lines.append(
        f"rules: kept (0 wrong, >= {summary['rules']['min_answered']:.0%} answered)"
        if not failures
        else "rules BROKEN:\n" + "\n".join(f"  - {failure}" for failure in failures)
    )
    return "\n".join(lines)


def record(judgement: Judgement) -> dict[str, Any]:
    """One conversation as the JSON result file holds it."""
    c = judgement.conversation
    return {
        "id": c.id,
        "workflow": c.workflow,
        "workflow_taken": judgement.workflow_taken,
        "text": c.text,
        "outcome": judgement.outcome,
        "verdict": judgement.verdict,
        "reply": judgement.reply,
        "reason": judgement.reason,
        "tools": list(judgement.tools),
        "problems": [{"kind": p.kind, "detail": p.detail} for p in judgement.problems],
        "seconds": round(judgement.seconds, 2),
    }


def _figures(judgements: Sequence[Judgement]) -> dict[str, Any]:
    verdicts = Counter(j.verdict for j in judgements)
    count = len(judgements)
    answered = sum(j.outcome in ANSWERED for j in judgements)
    return {
        "conversations": count,
        **{verdict: verdicts.get(verdict, 0) for verdict in VERDICTS},
        "wrong_delivered": sum(j.verdict == "wrong" and j.answered for j in judgements),
        "answered": answered,
        "answered_share": round(answered / count, 4) if count else None,
        "outcomes": dict(Counter(j.outcome for j in judgements)),
        "seconds_p50": _median([j.seconds for j in judgements]),
    }


def _row(name: str, figures: dict[str, Any]) -> str:
    share = figures["answered_share"]
    return (
        f"{name:18} {figures['conversations']:>4} {figures['correct']:>8} "
        f"{figures['wrong']:>6} {figures['person']:>7} {figures['unanswered']:>11} "
        f"{'-' if share is None else f'{share:.0%}':>9}"
    )


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return round(ordered[middle], 2)
    return round((ordered[middle - 1] + ordered[middle]) / 2, 2)
