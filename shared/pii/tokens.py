"""Reversible redaction: personal data replaced by vault tokens, each value sealed to the vault.

Where a tool legitimately needs the real value (look a customer up by email), the edge
writes a token in its place instead of a bare placeholder, and attaches the value sealed to
the tool-executor's vault key. Models, topics, logs and stores see only the token; the
tool-executor alone opens the seal, for the call that needs it:

    "my email is ann@example.com"  ->  "my email is [EMAIL#3f9a2c1b5d7e]"
"""

from __future__ import annotations

import re
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from shared.contracts import SealedValue, UserRequest
from shared.pii.detectors import Finding, PiiKind, find
from shared.pii.redaction import PLACEHOLDERS, replace_findings
from shared.pii.sealing import seal

_TOKEN_ID_BYTES = 6
_LABELS = {kind: placeholder.strip("[]") for kind, placeholder in PLACEHOLDERS.items()}
_KIND_OF_LABEL = {label: kind for kind, label in _LABELS.items()}
TOKEN_PATTERN = re.compile(
    r"\[(?P<label>" + "|".join(_LABELS.values()) + r")#(?P<id>[0-9a-f]{12})\]"
)


@dataclass(frozen=True, slots=True)
class Token:
    """A token as it stands in text. Example:

    >>> Token.parse("[EMAIL#3f9a2c1b5d7e]")
    Token(kind=<PiiKind.EMAIL: 'email'>, text='[EMAIL#3f9a2c1b5d7e]')
    >>> Token.parse("ann@example.com") is None
    True
    """

    kind: PiiKind
    text: str

    @classmethod
    def parse(cls, value: str) -> Token | None:
        match = TOKEN_PATTERN.fullmatch(value)
        return None if match is None else cls(_KIND_OF_LABEL[match["label"]], value)

    @staticmethod
    def pattern(kind: PiiKind) -> str:
        """The JSON-schema pattern of a token of `kind`."""
        return r"^\[" + _LABELS[kind] + r"#[0-9a-f]{12}\]$"

    @classmethod
    def new(cls, kind: PiiKind, identifier: str | None = None) -> Token:
        identifier = identifier or secrets.token_hex(_TOKEN_ID_BYTES)
        return cls(kind, f"[{_LABELS[kind]}#{identifier}]")


def seal_context(tenant_id: str, token: str) -> str:
    """What a seal is bound to: a token of one tenant."""
    return f"{tenant_id}\x1f{token}"


class RequestTokeniser:
    """Tokenises one request at the edge: one token per distinct value, each sealed once."""

    def __init__(self, request: UserRequest, *, tenant_id: str, vault_key: X25519PublicKey) -> None:
        self._request = request
        self._tenant_id = tenant_id
        self._vault_key = vault_key
        self._tokens: dict[tuple[PiiKind, str], str] = {}
        self.counts: Counter[PiiKind] = Counter()

    def tokenise(self) -> None:
        self._request.text = self._tokenise_text(self._request.text)
        for turn in self._request.history:
            turn.content = self._tokenise_text(turn.content)

    def _tokenise_text(self, text: str) -> str:
        findings = find(text, entities=True)
        self.counts.update(finding.kind for finding in findings)
        return replace_findings(text, findings, self._token_for)

    def _token_for(self, finding: Finding) -> str:
        key = (finding.kind, finding.value)
        token = self._tokens.get(key)
        if token is None:
            token = Token.new(finding.kind).text
            self._tokens[key] = token
            sealed = seal(
                self._vault_key, finding.value, context=seal_context(self._tenant_id, token)
            )
            self._request.sealed_values.append(
                SealedValue(token=token, kind=finding.kind, sealed=sealed)
            )
        return token


def map_strings(value: Any, transform: Callable[[str], str]) -> Any:
    """`value` (JSON-like: dicts, lists, scalars) with `transform` applied to every string."""
    if isinstance(value, str):
        return transform(value)
    if isinstance(value, dict):
        return {key: map_strings(item, transform) for key, item in value.items()}
    if isinstance(value, list):
        return [map_strings(item, transform) for item in value]
    return value
