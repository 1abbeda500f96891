"""Order tools: where an order is, and a customer's orders by the email they gave."""

from __future__ import annotations

import sqlite3

from services.tool_executor.business.context import JsonObject, ToolContext, ToolFailure

__all__ = ["find_orders_by_email", "lookup_order"]

RECENT_ORDERS = 5


def lookup_order(context: ToolContext, *, order_id: str) -> JsonObject:
    row = context.db.execute("SELECT * FROM orders WHERE order_id = ?", (order_id,)).fetchone()
    if row is None:
        raise ToolFailure("ORDER_NOT_FOUND", f"there is no order {order_id}")
    return _order(row)


def find_orders_by_email(context: ToolContext, *, email: str) -> JsonObject:
    """The customer's most recent orders; `email` is the real address (the vault revealed it)."""
    customer = context.db.execute(
        "SELECT customer_id FROM customers WHERE lower(email) = lower(?)", (email.strip(),)
    ).fetchone()
    if customer is None:
        # The message leaves on a topic: it names no address.
        raise ToolFailure("CUSTOMER_NOT_FOUND", "no customer has the email address given")
    rows = context.db.execute(
        "SELECT * FROM orders WHERE customer_id = ? ORDER BY updated_at DESC LIMIT ?",
        (customer["customer_id"], RECENT_ORDERS),
    ).fetchall()
    return {"customer_id": customer["customer_id"], "orders": [_order(row) for row in rows]}


def _order(row: sqlite3.Row) -> JsonObject:
    return {
        "order_id": row["order_id"],
        "status": row["status"],
        "carrier": row["carrier"],
        "tracking_number": row["tracking_number"],
        "estimated_delivery": row["estimated_delivery"],
        "updated_at": row["updated_at"],
    }
