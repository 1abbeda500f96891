"""Construction of envelopes for new requests."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Sequence

from shared.contracts._generated.conduit.v1.events_pb2 import (
    Budget,
    Envelope,
    Principal,
    WorkflowPosition,
)

SCHEMA_VERSION = 1


def new_id() -> str:
    return uuid.uuid4().hex


def derived_id(parent_event_id: str, purpose: str) -> str:
    """The id of an event produced from `parent_event_id`: the same every time, so a step
    that runs twice (a redelivery after a crash) emits events the next service recognises."""
    return hashlib.sha256(f"{parent_event_id}/{purpose}".encode()).hexdigest()[:32]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def new_envelope(
    *,
    session_id: str,
    tenant_id: str = "default",
    user_id: str = "anonymous",
    roles: Sequence[str] = ("customer",),
    timeout_s: float = 120.0,
    max_tokens: int = 8000,
    max_cost_usd: float = 0.10,
    request_id: str | None = None,
) -> Envelope:
    """An envelope for a request entering the system; the workflow is chosen on ingest."""
    created = now_ms()
    return Envelope(
        schema_version=SCHEMA_VERSION,
        event_id=new_id(),
        request_id=request_id or new_id(),
        session_id=session_id,
        tenant_id=tenant_id,
        principal=Principal(user_id=user_id, roles=list(roles)),
        workflow=WorkflowPosition(),
        deadline_unix_ms=created + int(timeout_s * 1000),
        budget=Budget(max_tokens=max_tokens, max_cost_usd=max_cost_usd),
        created_unix_ms=created,
    )
