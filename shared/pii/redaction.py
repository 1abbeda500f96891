"""Replacing personal data with typed placeholders before text reaches a model or a sink."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.pii.detectors import Finding, PiiKind, find

PLACEHOLDERS: dict[PiiKind, str] = {
    PiiKind.EMAIL: "[EMAIL]",
    PiiKind.CARD_NUMBER: "[CARD]",
    PiiKind.PHONE: "[PHONE]",
    PiiKind.PERSON_NAME: "[NAME]",
    PiiKind.ADDRESS: "[ADDRESS]",
}


@dataclass(frozen=True, slots=True)
class RedactionResult:
    """Redacted text and how many findings of each kind it replaced. Example:

    >>> result = redact("call +44 20 7946 0958")
    >>> result.text, result.counts
    ('call [PHONE]', {<PiiKind.PHONE: 'phone'>: 1})
    """

    text: str
    counts: dict[PiiKind, int] = field(default_factory=dict)


def redact(text: str, *, entities: bool = False) -> RedactionResult:
    """`text` with every finding replaced by its kind's placeholder; idempotent. With
    `entities`, person names and street addresses too (see `find`)."""
    findings = find(text, entities=entities)
    if not findings:
        return RedactionResult(text)
    counts = Counter(finding.kind for finding in findings)
    redacted = replace_findings(text, findings, lambda finding: PLACEHOLDERS[finding.kind])
    return RedactionResult(redacted, dict(counts))


def replace_findings(
    text: str, findings: list[Finding], replacement: Callable[[Finding], str]
) -> str:
    """`text` with each (ordered, non-overlapping) finding replaced."""
    pieces: list[str] = []
    cursor = 0
    for finding in findings:
        pieces += [text[cursor : finding.start], replacement(finding)]
        cursor = finding.end
    pieces.append(text[cursor:])
    return "".join(pieces)
