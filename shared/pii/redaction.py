"""Replacing personal data with typed placeholders before text reaches a model or a sink."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from shared.pii.detectors import PiiKind, find

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
    pieces: list[str] = []
    cursor = 0
    for finding in findings:
        pieces.append(text[cursor : finding.start])
        pieces.append(PLACEHOLDERS[finding.kind])
        cursor = finding.end
    pieces.append(text[cursor:])
    counts = Counter(finding.kind for finding in findings)
    return RedactionResult("".join(pieces), dict(counts))
