"""The audit trail: what a step did on someone's behalf, as `AuditRecord`s on the audit topic.

Records are keyed by tenant and carry who asked (principal, tenant, request, session).
A record's id is derived from the event, kind, subject and idempotency key, so a step that
runs again (a redelivery, a retry) writes records with the same ids: readers dedupe.
Details are redacted here, whatever the caller passed.
"""

from __future__ import annotations

import json

from shared.bus import Bus
from shared.contracts import AuditRecord, Envelope, derived_id, now_ms
from shared.pii import redact

# The kinds of record; `subject` is the tool, the guardrail stage, or the refused tool.
TOOL_CALL = "tool_call"
GUARDRAIL = "guardrail"
AUTHORIZATION = "authorization"

AUDIT_TYPE = "application/x-protobuf; type=conduit.v1.AuditRecord"
# Cut after redaction: cutting first could leave half a card number the detectors miss.
DETAIL_MAX_CHARS = 2000


def audit_id(event_id: str, kind: str, subject: str, idempotency_key: str) -> str:
    """The same for the same event, kind, subject and key; JSON keeps the parts apart."""
    return derived_id(event_id, json.dumps(["audit", kind, subject, idempotency_key]))


class AuditLog:
    """The audit trail of one step of one request. Example:

    >>> audit = AuditLog(bus, topics.audit, event.envelope, service="tool-executor",
    ...                  step="act")  # doctest: +SKIP
    >>> await audit.record("tool_call", "issue_refund", "ok", detail='{"invoice_id": "INV-1"}',
    ...                    idempotency_key=key)  # doctest: +SKIP
    """

    def __init__(
        self, bus: Bus, topic: str, envelope: Envelope, *, service: str, step: str
    ) -> None:
        self._bus = bus
        self._topic = topic
        self._service = service
        self._step = step
        # A copy: the handler works on its own copy of the event and may change it.
        self._envelope = Envelope()
        self._envelope.CopyFrom(envelope)

    async def record(
        self,
        kind: str,
        subject: str,
        outcome: str,
        *,
        detail: str = "",
        idempotency_key: str = "",
    ) -> AuditRecord:
        """Publish one record (`kind`: tool_call | guardrail | authorization) and return it."""
        envelope = self._envelope
        record = AuditRecord(
            audit_id=audit_id(envelope.event_id, kind, subject, idempotency_key),
            at_unix_ms=now_ms(),
            request_id=envelope.request_id,
            session_id=envelope.session_id,
            tenant_id=envelope.tenant_id,
            principal=envelope.principal,
            service=self._service,
            step=self._step,
            kind=kind,
            subject=subject,
            outcome=outcome,
            detail=_redacted(detail),
            idempotency_key=idempotency_key,
        )
        await self._bus.publish(
            self._topic,
            record.SerializeToString(),
            key=envelope.tenant_id,
            headers={
                "content-type": AUDIT_TYPE,
                "conduit-request-id": envelope.request_id,
                "conduit-tenant-id": envelope.tenant_id,
            },
        )
        return record


def _redacted(detail: str) -> str:
    text = redact(detail).text
    return text if len(text) <= DETAIL_MAX_CHARS else text[: DETAIL_MAX_CHARS - 1] + "…"
