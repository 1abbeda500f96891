"""Detecting and redacting personal data (emails, card numbers, phone numbers and, with
``entities=True``, person names and street addresses) in text.

Every sink that may see user text (guardrail, logs, spans, topics, memory) redacts here;
the patterns are cheap enough for every log line, the names need a language model:

    >>> redact("write to ann@example.com").text
    'write to [EMAIL]'
    >>> redact("Jane Roe lives at 12 Elm Road", entities=True).text
    '[NAME] lives at [ADDRESS]'
"""

from shared.pii.detectors import Finding, PiiKind, find, luhn_valid
from shared.pii.redaction import PLACEHOLDERS, RedactionResult, redact

__all__ = ["PLACEHOLDERS", "Finding", "PiiKind", "RedactionResult", "find", "luhn_valid", "redact"]
