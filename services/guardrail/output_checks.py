"""The output stage's named checks on the model's answer (what happens on a failure is
`services.guardrail.answer_recovery`'s business).

A check takes the step event and returns a human-readable finding when it fails, None
when it passes. Adding a check is one function and one `CHECKS` entry; checks that need
the tool catalog (`refund_within_policy` too) are in `services.guardrail.grounding_checks`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from shared.contracts import StepEvent
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


CHECKS: Mapping[str, Check] = {
    "not_empty": not_empty,
    "no_pii": no_pii,
    "cites_sources": cites_sources,
}


def findings_of(event: StepEvent, checks: Sequence[Check]) -> list[str]:
    """One finding per failed check, in the order the checks are given."""
    return [finding for check in checks if (finding := check(event)) is not None]
