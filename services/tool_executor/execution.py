"""Running checked calls through the idempotency ledger against the company database."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from pathlib import Path

from services.tool_executor.business import (
    RefundPolicy,
    ToolContext,
    ToolFailure,
    open_business_db,
)
from services.tool_executor.calls import CheckedCall
from services.tool_executor.handlers import Handler
from services.tool_executor.ledger import IdempotencyLedger, Outcome, arguments_hash
from shared.runtime import InvalidArguments

OUTCOME_UNKNOWN = "OUTCOME_UNKNOWN"


class CallRunner:
    """Runs each call at most once per idempotency key. Thread-confined: open and use it
    on one thread. Example: `outcome, replayed = runner.run(checked, key)`.
    """

    def __init__(
        self,
        *,
        ledger: IdempotencyLedger,
        db: sqlite3.Connection,
        policy: RefundPolicy,
        handlers: Mapping[str, Handler],
    ) -> None:
        self._ledger = ledger
        self._db = db
        self._policy = policy
        self._handlers = handlers

    @classmethod
    def open(
        cls,
        *,
        ledger: Path,
        business_db: Path,
        seed: Path,
        policy: RefundPolicy,
        handlers: Mapping[str, Handler],
    ) -> CallRunner:
        return cls(
            ledger=IdempotencyLedger(ledger),
            db=open_business_db(business_db, seed),
            policy=policy,
            handlers=handlers,
        )

    def run(self, checked: CheckedCall, key: str) -> tuple[Outcome, bool]:
        """The call's outcome, and whether it was replayed from the ledger."""
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
        outcome = self._execute(checked, key)
        self._ledger.complete(key, outcome)
        return outcome, False

    def _execute(self, checked: CheckedCall, key: str) -> Outcome:
        context = ToolContext(db=self._db, refund_policy=self._policy, idempotency_key=key)
        try:
            result = self._handlers[checked.spec.name](context, **checked.arguments)
        except ToolFailure as failure:
            return Outcome(ok=False, error_code=failure.code, error_message=failure.message)
        return Outcome(ok=True, result_json=json.dumps(result, ensure_ascii=False))
