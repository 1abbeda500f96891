"""What the memory stores hand back: turns, facts, task state and session summaries."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

JsonDocument = dict[str, Any]


@dataclass(frozen=True)
class StoredTurn:
    """One turn of a conversation; `seq` numbers the session's turns from 0, without gaps."""

    seq: int
    role: str
    content: str
    request_id: str
    at_unix_ms: int


@dataclass(frozen=True)
class Fact:
    """A fact or preference about a user (`"language" -> "Dutch"`), and where it came from."""

    key: str
    value: str
    request_id: str
    at_unix_ms: int


@dataclass(frozen=True)
class TaskState:
    """A task's intermediate state; `version` counts its writes (1 after the first)."""

    document: JsonDocument
    version: int
    at_unix_ms: int


@dataclass(frozen=True)
class SessionSummary:
    """The summary of a session's older turns: every turn up to `through_seq` inclusive."""

    text: str
    through_seq: int


def encode_document(document: JsonDocument) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def decode_document(text: str) -> JsonDocument:
    document = json.loads(text)
    if not isinstance(document, dict):
        raise ValueError(f"a stored task state is not a JSON object: {text[:80]!r}")
    return document
