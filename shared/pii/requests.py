"""Redacting a whole user request: its text and every turn of its history, in place."""

from __future__ import annotations

from collections import Counter

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from shared.contracts import Redaction, UserRequest
from shared.pii.detectors import PiiKind
from shared.pii.redaction import redact
from shared.pii.tokens import RequestTokeniser


def redact_request(request: UserRequest) -> Counter[PiiKind]:
    """Replace the personal data in ``request`` with placeholders; what was replaced.

    Example:
        >>> request = UserRequest(text="mail ann@example.com")
        >>> redact_request(request), request.text
        (Counter({<PiiKind.EMAIL: 'email'>: 1}), 'mail [EMAIL]')
    """
    counts: Counter[PiiKind] = Counter()
    redacted = redact(request.text, entities=True)
    request.text = redacted.text
    counts.update(redacted.counts)
    for turn in request.history:
        redacted = redact(turn.content, entities=True)
        turn.content = redacted.text
        counts.update(redacted.counts)
    return counts


def redact_at_edge(
    request: UserRequest, *, tenant_id: str, vault_key: X25519PublicKey | None = None
) -> None:
    """Redact ``request`` before it is published, recording what was replaced on it.

    With the vault's public key, personal data becomes vault tokens with sealed values
    (reversible, for tools that need them, `shared.pii.tokens`); without, placeholders.
    CPU-bound (names are found by a model): call it off the event loop."""
    if vault_key is None:
        counts = redact_request(request)
    else:
        tokeniser = RequestTokeniser(request, tenant_id=tenant_id, vault_key=vault_key)
        tokeniser.tokenise()
        counts = tokeniser.counts
    request.redacted_at_edge.extend(as_redactions(counts))


def as_redactions(counts: Counter[PiiKind] | dict[PiiKind, int]) -> list[Redaction]:
    """Counts by kind as ``Redaction`` messages, in kind order."""
    return [Redaction(kind=kind, count=count) for kind, count in sorted(counts.items())]
