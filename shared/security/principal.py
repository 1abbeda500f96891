"""Who is asking, vouched for. The gateway authenticates the caller and signs the principal
it puts in the envelope; services that act on roles accept only a signed principal.

The signature is an HMAC-SHA256, keyed by a secret only the gateway and the services hold
(`CONDUIT_PRINCIPAL_KEY`), over the request id, tenant, user and roles. Events derived from
a request keep its envelope, so the signature holds on every hop; an event written straight
onto a topic with a tenant or roles it was never given fails the check.
"""

from __future__ import annotations

import hashlib
import hmac

from shared.contracts import ApprovalDecision, Envelope


def _hmac(key: bytes, fields: list[str]) -> str:
    return hmac.new(key, "\x1f".join(fields).encode("utf-8"), hashlib.sha256).hexdigest()


def _digest(key: bytes, envelope: Envelope) -> str:
    principal = envelope.principal
    fields = [envelope.request_id, envelope.tenant_id, principal.user_id, *sorted(principal.roles)]
    return _hmac(key, fields)


def sign_principal(envelope: Envelope, key: bytes) -> None:
    """Vouch for the envelope's tenant and principal (the gateway does this once)."""
    envelope.principal.signature = _digest(key, envelope)


def verify_principal(envelope: Envelope, key: bytes) -> bool:
    """Whether the principal was signed with `key` and not changed since.

    >>> from shared.contracts import new_envelope
    >>> envelope = new_envelope(session_id="s", roles=["customer"])
    >>> sign_principal(envelope, b"secret")
    >>> verify_principal(envelope, b"secret")
    True
    >>> envelope.principal.roles.append("admin")
    >>> verify_principal(envelope, b"secret")
    False
    """
    signature = envelope.principal.signature
    return bool(signature) and hmac.compare_digest(signature, _digest(key, envelope))


def _decision_digest(key: bytes, decision: ApprovalDecision) -> str:
    approver = decision.approver
    outcome = str(int(decision.outcome))
    return _hmac(key, [decision.approval_id, outcome, approver.user_id, *sorted(approver.roles)])


def sign_decision(decision: ApprovalDecision, key: bytes) -> None:
    """Vouch for the approver of a decision (the gateway or an operator's CLI does this)."""
    decision.approver.signature = _decision_digest(key, decision)


def verify_decision(decision: ApprovalDecision, key: bytes) -> bool:
    """Whether the decision's approver was signed with `key` and nothing changed since."""
    signature = decision.approver.signature
    return bool(signature) and hmac.compare_digest(signature, _decision_digest(key, decision))
