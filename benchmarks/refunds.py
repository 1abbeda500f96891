"""The refund workload of `make bench`: a company database with one refundable invoice per
request, and the refund request that names it.

Every request asks for a refund of its own invoice (charged twice three days ago, 49.99 USD),
so every request runs the refund workflow to the end: look the invoice up, check the policy,
pay, answer. Reusing one invoice would let every request after the first stop at "nothing
left to refund", a shorter and cheaper path than the one being measured.

Example::

    create_business_db(data_dir / "tool-executor" / "business.sqlite3", invoices=500)
    text = refund_text(invoice_id(0))  # "... invoice INV-2000, please refund me"
"""

from __future__ import annotations

from pathlib import Path

from services.tool_executor.business import open_business_db
from shared.config import ConduitSettings

FIRST_INVOICE = 2000


def invoice_id(index: int) -> str:
    """The `index`-th refundable invoice (0-based) of a database made by `create_business_db`."""
    if index < 0:
        raise ValueError(f"invoice indexes start at 0, got {index}")
    return f"INV-{FIRST_INVOICE + index}"


def refund_text(invoice: str) -> str:
    return f"I was charged twice for invoice {invoice}, please refund me"


def refundable_invoices_sql(count: int) -> str:
    """`count` invoices from INV-2000 on, charged twice three days ago: each refundable once."""
    if count < 1:
        raise ValueError(f"at least one invoice, got {count}")
    last = FIRST_INVOICE + count - 1
    return (
        f"WITH RECURSIVE n(i) AS (SELECT {FIRST_INVOICE} UNION ALL "
        f"SELECT i + 1 FROM n WHERE i < {last})\n"
        "INSERT INTO invoices (invoice_id, customer_id, amount_cents, currency, status,"
        " charged_count, issued_at)\n"
        "SELECT 'INV-' || i, 'CUS-100', 4999, 'USD', 'paid', 2, datetime('now', '-3 days')"
        " FROM n;\n"
    )


def create_business_db(path: Path, *, invoices: int) -> None:
    """The demo company database plus `invoices` refundable ones, made before the
    tool-executor starts (it opens an existing database as it is)."""
    demo_seed = ConduitSettings().config_dir / "demo" / "business.sql"
    seed = path.with_suffix(".seed.sql")
    seed.parent.mkdir(parents=True, exist_ok=True)
    seed.write_text(demo_seed.read_text() + "\n" + refundable_invoices_sql(invoices))
    open_business_db(path, seed).close()
