"""Order tools: where an order is."""

from __future__ import annotations

from services.tool_executor.business.context import JsonObject, ToolContext, ToolFailure

__all__ = ["lookup_order"]


def lookup_order(context: ToolContext, *, order_id: str) -> JsonObject:
    row = context.db.execute("SELECT * FROM orders WHERE order_id = ?", (order_id,)).fetchone()
    if row is None:
        raise ToolFailure("ORDER_NOT_FOUND", f"there is no order {order_id}")
    return {
        "order_id": row["order_id"],
        "status": row["status"],
        "carrier": row["carrier"],
        "tracking_number": row["tracking_number"],
        "estimated_delivery": row["estimated_delivery"],
        "updated_at": row["updated_at"],
    }
