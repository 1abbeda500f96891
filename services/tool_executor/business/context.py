"""What a tool handler receives, and how it reports a business failure."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from services.tool_executor.business.policy import RefundPolicy

JsonObject = dict[str, Any]


class ToolFailure(Exception):
    """A business outcome that is not a success (unknown invoice, refund refused).

    It becomes a failed tool exchange with `code`, not an error of the request.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, kw_only=True)
class ToolContext:
    """Example: `billing.lookup_invoice(ToolContext(db=db, ...), invoice_id="INV-1001")`."""

    db: sqlite3.Connection
    refund_policy: RefundPolicy
    # The call's idempotency key: side effects store it so a rerun finds its earlier effect.
    idempotency_key: str
