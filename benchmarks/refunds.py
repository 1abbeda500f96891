"""The refund workload of `make bench`: a company database with one refundable invoice per
request, and the refund request that names it.

Every request asks for a refund of its own invoice (charged twice three days ago, 49.99 USD),
so every request runs the refund workflow to the end: look the invoice up, check the policy,
pay, answer. Reusing one invoice would let every request after the first stop at "nothing
left to refund", a shorter and cheaper path than the one being measured.

Example::

    create_business_db(business_db_path(data_dir), invoices=500)
    text = refund_text(invoice_id(0))  # "... invoice INV-2000, please refund me"
    ...  # the requests
    assert max(refunds_per_invoice(business_db_path(data_dir)).values()) == 1
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path

from services.tool_executor.business import open_business_db
from services.tool_executor.settings import state_dir
from shared.config import ConduitSettings

FIRST_INVOICE = 2000


def invoice_id(index: int) -> str:
    """The `index`-th refundable invoice (0-based) of a database made by `create_business_db`."""
    if index < 0:
        raise ValueError(f"invoice indexes start at 0, got {index}")
    return f"INV-{FIRST_INVOICE + index}"


def business_db_path(data_dir: Path) -> Path:
    """Where a tool-executor with `data_dir` and no `CONDUIT_TOOL_EXECUTOR_DB` keeps it."""
    return state_dir(ConduitSettings(data_dir=data_dir)) / "business.sqlite3"


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


def refunds_per_invoice(path: Path) -> Counter[str]:
    """How many refunds were paid on each invoice of the database at `path`."""
    with closing(sqlite3.connect(path, timeout=10)) as db:
        rows = db.execute("SELECT invoice_id FROM payments WHERE kind = 'refund'").fetchall()
    return Counter(invoice for (invoice,) in rows)
