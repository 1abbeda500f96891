"""Redacting a whole user request: its text and every turn of its history, in place."""

from __future__ import annotations

from collections import Counter

from shared.contracts import Redaction, UserRequest
from shared.pii.detectors import PiiKind
from shared.pii.redaction import redact


def redact_request(request: UserRequest) -> Counter[PiiKind]:
    """Replace the personal data in ``request`` with placeholders; what was replaced.

    Example:
        >>> request = UserRequest(text="mail ann@example.com")
        >>> redact_request(request), request.text
        (Counter({<PiiKind.EMAIL: 'email'>: 1}), 'mail [EMAIL]')
    """
    counts: Counter[PiiKind] = Counter()
    redacted = redact(request.text)
    request.text = redacted.text
    counts.update(redacted.counts)
    for turn in request.history:
        redacted = redact(turn.content)
        turn.content = redacted.text
        counts.update(redacted.counts)
    return counts


def redact_at_edge(request: UserRequest) -> None:
    """Redact ``request`` before it is published, recording what was replaced on it."""
    counts = redact_request(request)
    request.redacted_at_edge.extend(as_redactions(counts))


def as_redactions(counts: Counter[PiiKind] | dict[PiiKind, int]) -> list[Redaction]:
    """Counts by kind as ``Redaction`` messages, in kind order."""
    return [Redaction(kind=kind, count=count) for kind, count in sorted(counts.items())]
