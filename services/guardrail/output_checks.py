"""The output stage: named checks on the model's answer; any failure hands off to a person.

A check takes the step event and returns a human-readable finding when it fails, None
when it passes. Adding a check is one function and one `CHECKS` entry.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from services.guardrail.refund_policy import REFUND_TOOL, refund_within_policy
from shared.contracts import GuardrailReport, StepEvent, Verdict
from shared.pii import find

Check = Callable[[StepEvent], str | None]


def not_empty(event: StepEvent) -> str | None:
    return None if event.model_output.text.strip() else "the answer is empty"


def no_pii(event: StepEvent) -> str | None:
    kinds = Counter(finding.kind for finding in find(event.model_output.text))
    if not kinds:
        return None
    found = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
    return f"the answer contains personal data ({found})"


def cites_sources(event: StepEvent) -> str | None:
    retrieved = {chunk.source_id for chunk in event.retrieval.chunks}
    if not retrieved:
        return None
    cited = list(event.model_output.sources)
    if not cited:
        return f"the answer cites no sources although {len(retrieved)} were retrieved"
    unknown = [source for source in cited if source not in retrieved]
    if unknown:
        return f"the answer cites sources that were not retrieved: {', '.join(unknown)}"
    return None


_REFUND_CLAIM = re.compile(
    r"\b(i have|i've|we have|we've|has been|have been|was|were)\s+(issued\s+(a|the|your)\s+)?"
    r"refund(ed)?\b|\brefund\s+(of\s+\S+\s+)?(has been|was|is being)\s+(issued|processed|sent)",
    re.IGNORECASE,
)


def refund_claims_match_actions(event: StepEvent) -> str | None:
    """An answer may say a refund was made only if a refund was actually issued."""
    if not _REFUND_CLAIM.search(event.model_output.text):
        return None
    issued = [x for x in event.tool_exchanges if x.call.tool == REFUND_TOOL and x.ok]
    return None if issued else "the answer claims a refund that was never issued"


CHECKS: Mapping[str, Check] = {
    "not_empty": not_empty,
    "no_pii": no_pii,
    "cites_sources": cites_sources,
    "refund_within_policy": refund_within_policy,
    "refund_claims_match_actions": refund_claims_match_actions,
}


def guard_output(event: StepEvent, checks: Sequence[Check]) -> GuardrailReport:
    """PASS when every check passes, else HANDOFF with one finding per failed check."""
    findings = [finding for check in checks if (finding := check(event)) is not None]
    verdict = Verdict.VERDICT_HANDOFF if findings else Verdict.VERDICT_PASS
    return GuardrailReport(stage="output", verdict=verdict, findings=findings)
