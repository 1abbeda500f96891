"""The PII vault: vault tokens and their values, kept inside the tool-executor only.

The edge seals each value it tokenises to the vault's public key (`shared.pii.tokens`);
the vault admits those seals, reveals a token's value to the one call whose argument
needs it, and tokenises the personal data in tool results before they leave for a topic.
Values stay sealed at rest (to the vault's own key), so the vault's file holds no value in
clear either. Thread-confined like the rest of the tool-executor's SQLite state.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.tool_executor.business import ToolFailure
from services.tool_executor.sqlite import connect, immediate
from shared.contracts import SealedValue
from shared.pii import PiiKind, find
from shared.pii.redaction import replace_findings
from shared.pii.sealing import SealError, VaultKeys, seal
from shared.pii.tokens import Token, map_strings, seal_context

PII_TOKEN_UNKNOWN = "PII_TOKEN_UNKNOWN"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pii_tokens (
  tenant_id TEXT NOT NULL,
  token TEXT NOT NULL,
  kind TEXT NOT NULL,
  sealed BLOB NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (tenant_id, token)
);
"""

log = logging.getLogger(__name__)


class PiiVault:
    """Example: `vault.admit("acme", event.request.sealed_values)`, then
    `vault.reveal("acme", Token.parse("[EMAIL#3f9a2c1b5d7e]"))`."""

    def __init__(self, path: Path, keys: VaultKeys) -> None:
        self._db = connect(path)
        self._db.executescript(_SCHEMA)
        self._keys = keys
        # Tokens the vault mints for values in tool results are the same for the same value
        # (per tenant), so a later call can name what an earlier result showed.
        self._token_key = hashlib.sha256(b"conduit pii token\x00" + keys.private_bytes()).digest()

    def admit(self, tenant_id: str, sealed_values: Iterable[SealedValue]) -> None:
        """Keep the edge's seals that open for this tenant; a seal that does not is
        ignored (its token then stays unknown), and logged without its bytes."""
        rows = []
        for sealed in sealed_values:
            token = Token.parse(sealed.token)
            if token is None or token.kind != sealed.kind:
                log.warning("pii seal ignored: malformed token", extra={"tenant": tenant_id})
                continue
            try:
                self._keys.open(sealed.sealed, context=seal_context(tenant_id, sealed.token))
            except SealError:
                log.warning("pii seal ignored: it does not open", extra={"tenant": tenant_id})
                continue
            rows.append((tenant_id, sealed.token, sealed.kind, sealed.sealed, _now()))
        with immediate(self._db) as db:
            db.executemany("INSERT OR IGNORE INTO pii_tokens VALUES (?, ?, ?, ?, ?)", rows)

    def reveal(self, tenant_id: str, token: Token) -> str:
        """The value behind `token` for this tenant; `ToolFailure` when the vault lacks it."""
        row = self._db.execute(
            "SELECT sealed FROM pii_tokens WHERE tenant_id = ? AND token = ? AND kind = ?",
            (tenant_id, token.text, token.kind),
        ).fetchone()
        if row is None:
            raise ToolFailure(
                PII_TOKEN_UNKNOWN,
                f"{token.text} is not a token this tenant's vault holds; ask for the value again",
            )
        return self._keys.open(row["sealed"], context=seal_context(tenant_id, token.text))

    def tokenise(self, tenant_id: str, value: Any) -> Any:
        """`value` (a JSON-like result) with the personal data in its strings replaced by
        vault tokens, each value kept sealed."""

        def tokenise_text(text: str) -> str:
            findings = find(text, entities=True)
            return replace_findings(
                text, findings, lambda f: self._mint(tenant_id, f.kind, f.value)
            )

        return map_strings(value, tokenise_text)

    def _mint(self, tenant_id: str, kind: PiiKind, value: str) -> str:
        digest = hmac.new(
            self._token_key, f"{tenant_id}\x1f{kind}\x1f{value}".encode(), hashlib.sha256
        )
        token = Token.new(kind, digest.hexdigest()[:12]).text
        sealed = seal(self._keys.public_key, value, context=seal_context(tenant_id, token))
        self._db.execute(
            "INSERT OR IGNORE INTO pii_tokens VALUES (?, ?, ?, ?, ?)",
            (tenant_id, token, kind, sealed, _now()),
        )
        return token


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
