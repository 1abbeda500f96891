"""Running checked calls through the idempotency ledger against the company database,
with personal data revealed to the handlers that need it and kept off their results."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.tool_executor.business import (
    JsonObject,
    RefundPolicy,
    ToolContext,
    ToolFailure,
    open_business_db,
)
from services.tool_executor.calls import CheckedCall
from services.tool_executor.handlers import Handler
from services.tool_executor.ledger import IdempotencyLedger, Outcome, arguments_hash
from services.tool_executor.vault import PiiVault
from shared.contracts import SealedValue
from shared.pii import redact
from shared.pii.sealing import VaultKeys
from shared.pii.tokens import Token, map_strings
from shared.runtime import InvalidArguments

OUTCOME_UNKNOWN = "OUTCOME_UNKNOWN"
PII_VAULT_UNAVAILABLE = "PII_VAULT_UNAVAILABLE"


@dataclass(frozen=True)
class Claimed:
    """A call the ledger now holds as pending, with its arguments as the tool must get them
    (vault tokens revealed)."""

    arguments: dict[str, Any]


@dataclass(frozen=True)
class CallScope:
    """Whose call it is, and the values the edge sealed for it."""

    tenant_id: str
    sealed_values: Sequence[SealedValue] = ()


class CallRunner:
    """Runs each call at most once per idempotency key. Thread-confined: open and use it
    on one thread. Example: `outcome, replayed = runner.run(checked, key, CallScope("acme"))`.
    """

    def __init__(
        self,
        *,
        ledger: IdempotencyLedger,
        db: sqlite3.Connection,
        policy: RefundPolicy,
        handlers: Mapping[str, Handler],
        vault: PiiVault | None = None,
    ) -> None:
        self._ledger = ledger
        self._db = db
        self._policy = policy
        self._handlers = handlers
        self._vault = vault

    @classmethod
    def open(
        cls,
        *,
        ledger: Path,
        business_db: Path,
        seed: Path,
        policy: RefundPolicy,
        handlers: Mapping[str, Handler],
        vault: Path,
        vault_keys: VaultKeys | None,
    ) -> CallRunner:
        return cls(
            ledger=IdempotencyLedger(ledger),
            db=open_business_db(business_db, seed),
            policy=policy,
            handlers=handlers,
            vault=None if vault_keys is None else PiiVault(vault, vault_keys),
        )

    def run(self, checked: CheckedCall, key: str, scope: CallScope) -> tuple[Outcome, bool]:
        """The call's outcome, and whether it was replayed from the ledger."""
        claimed = self.claim(checked, key, scope)
        if not isinstance(claimed, Claimed):
            return claimed
        context = ToolContext(db=self._db, refund_policy=self._policy, idempotency_key=key)
        try:
            result = self._handlers[checked.spec.name](context, **claimed.arguments)
        except ToolFailure as failure:
            return self.finish(key, scope.tenant_id, failure), False
        return self.finish(key, scope.tenant_id, result), False

    def claim(
        self, checked: CheckedCall, key: str, scope: CallScope
    ) -> Claimed | tuple[Outcome, bool]:
        """`Claimed` when the call is to run now (the ledger holds it as pending), else the
        outcome it already has and whether that is a replay.

        For tools that run outside the process: claim, await the call, then `finish`.
        """
        if self._vault is not None and scope.sealed_values:
            self._vault.admit(scope.tenant_id, scope.sealed_values)
        tool = checked.spec.name
        digest = arguments_hash(checked.arguments)
        entry = self._ledger.claim(key, tool=tool, arguments_hash=digest)
        if entry is not None:
            if (entry.tool, entry.arguments_hash) != (tool, digest):
                raise InvalidArguments(
                    f"{tool}: idempotency key {key} was already used for another call"
                )
            if entry.outcome is not None:
                return entry.outcome, True
            if not checked.spec.safe_to_retry:
                # An earlier attempt died mid-call; running it again could repeat its effect.
                unknown = Outcome(
                    ok=False,
                    error_code=OUTCOME_UNKNOWN,
                    error_message=f"{tool} was interrupted; whether it took effect is unknown",
                )
                self._ledger.complete(key, unknown)
                return unknown, False
        try:
            return Claimed(self._reveal(checked, scope.tenant_id))
        except ToolFailure as failure:
            return self.finish(key, scope.tenant_id, failure), False

    def finish(self, key: str, tenant_id: str, result: JsonObject | ToolFailure) -> Outcome:
        """Records a claimed call's result or failure, personal data concealed."""
        outcome = self._outcome(tenant_id, result)
        self._ledger.complete(key, outcome)
        return outcome

    def _outcome(self, tenant_id: str, result: JsonObject | ToolFailure) -> Outcome:
        if isinstance(result, ToolFailure):
            message = self._conceal(tenant_id, result.message)
            return Outcome(ok=False, error_code=result.code, error_message=message)
        concealed = self._conceal(tenant_id, result)
        return Outcome(ok=True, result_json=json.dumps(concealed, ensure_ascii=False))

    def _reveal(self, checked: CheckedCall, tenant_id: str) -> dict[str, Any]:
        """The arguments with each `pii` argument's vault token replaced by its value."""
        arguments = dict(checked.arguments)
        for name, spec in checked.spec.arguments.items():
            token = Token.parse(arguments[name]) if spec.pii and arguments.get(name) else None
            if token is None:
                continue
            if self._vault is None:
                raise ToolFailure(
                    PII_VAULT_UNAVAILABLE,
                    f"{checked.spec.name}.{name} needs a vault token's value, and this "
                    "tool-executor has no vault key (CONDUIT_TOOL_EXECUTOR_PII_VAULT_PRIVATE_KEY)",
                )
            arguments[name] = self._vault.reveal(tenant_id, token)
        return arguments

    def _conceal(self, tenant_id: str, value: Any) -> Any:
        """A result or message as it may leave: personal data as vault tokens or, without a
        vault, as placeholders; the company's systems hold it, topics and ledgers not."""
        if self._vault is not None:
            return self._vault.tokenise(tenant_id, value)
        return map_strings(value, lambda text: redact(text, entities=True).text)
