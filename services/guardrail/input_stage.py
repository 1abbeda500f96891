"""The input stage: bound the request's size, redact personal data and screen for prompt
injection before any model sees it."""

from __future__ import annotations

from shared.contracts import GuardrailReport, UserRequest, Verdict
from shared.injection import InjectionScreen
from shared.pii import PiiKind
from shared.pii.requests import as_redactions, redact_request
from shared.runtime import InputRejected, InputTooLarge


def guard_input(
    request: UserRequest, *, max_chars: int, screen: InjectionScreen
) -> GuardrailReport:
    """Redact `request` in place (text and every history turn), then screen it for prompt
    injection (its findings go in the report); raise if it may not proceed. CPU-bound:
    call it off the event loop."""
    size = len(request.text)
    if size > max_chars:
        raise InputTooLarge(f"input is {size} characters, over the limit of {max_chars}")
    if not request.text.strip():
        raise InputRejected("input is empty")
    # Anything the client missed or was not asked to redact; its own redactions count too.
    counts = redact_request(request)
    counts.update({PiiKind(r.kind): r.count for r in request.redacted_at_edge})
    # Screened after redaction, so no personal data reaches the embedding cache.
    findings = screen.request(request)
    return GuardrailReport(
        stage="input",
        verdict=Verdict.VERDICT_PASS,
        redactions=as_redactions(counts),
        findings=findings,
    )
