"""Redaction before anything reaches a store, off the event loop (the name model is CPU work)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from shared.pii import redact


async def redacted_free_text(texts: Sequence[str]) -> list[str]:
    """Every text with personal data, person names and addresses included, replaced."""
    if not texts:
        return []
    return await asyncio.to_thread(lambda: [redact(t, entities=True).text for t in texts])


def redacted_values(value: Any) -> Any:
    """A JSON value with the patterned personal data (emails, cards, phones) in its strings
    replaced. Names are not looked for: task state is structured, and the name model on
    short field values mistakes ids and codes for names."""
    if isinstance(value, str):
        return redact(value).text
    if isinstance(value, list):
        return [redacted_values(item) for item in value]
    if isinstance(value, dict):
        return {key: redacted_values(item) for key, item in value.items()}
    return value
