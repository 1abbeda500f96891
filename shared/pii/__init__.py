"""Detecting and redacting personal data (emails, card numbers, phone numbers) in text.

Every sink that may see user text (guardrail, logs, spans, topics, memory) redacts here:

    >>> redact("write to ann@example.com").text
    'write to [EMAIL]'
"""

from shared.pii.detectors import Finding, PiiKind, find, luhn_valid
from shared.pii.redaction import PLACEHOLDERS, RedactionResult, redact

__all__ = ["PLACEHOLDERS", "Finding", "PiiKind", "RedactionResult", "find", "luhn_valid", "redact"]
