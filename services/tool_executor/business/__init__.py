"""The company's systems the tools act on: customers, invoices, orders, payments.

Each tool handler is a plain function `(context, **arguments) -> JSON object`; business
outcomes that are not successes raise `ToolFailure`.
"""

from services.tool_executor.business.context import JsonObject, ToolContext, ToolFailure
from services.tool_executor.business.database import open_business_db
from services.tool_executor.business.policy import REFUND_POLICY_FILE, RefundPolicy

__all__ = [
    "REFUND_POLICY_FILE",
    "JsonObject",
    "RefundPolicy",
    "ToolContext",
    "ToolFailure",
    "open_business_db",
]
