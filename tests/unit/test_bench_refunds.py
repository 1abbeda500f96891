"""The refund workload's company database: one refundable invoice per request."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from benchmarks.refunds import (
    business_db_path,
    create_business_db,
    invoice_id,
    refund_text,
    refunds_per_invoice,
)


def test_invoices_are_numbered_from_inv_2000() -> None:
    assert [invoice_id(i) for i in (0, 1, 499)] == ["INV-2000", "INV-2001", "INV-2499"]


def test_there_is_no_invoice_before_the_first() -> None:
    with pytest.raises(ValueError, match="start at 0"):
        invoice_id(-1)


def test_the_request_names_its_invoice() -> None:
    assert "invoice INV-2007" in refund_text(invoice_id(7))


def test_the_database_holds_each_asked_invoice_charged_twice_and_none_refunded(
    tmp_path: Path,
) -> None:
    path = business_db_path(tmp_path)
    create_business_db(path, invoices=25)
    ids = [invoice_id(i) for i in range(25)]
    with closing(sqlite3.connect(path)) as db:
        rows = db.execute(
            f"SELECT invoice_id, charged_count FROM invoices WHERE invoice_id IN "
            f"({','.join('?' * len(ids))})",
            ids,
        ).fetchall()
    assert sorted(rows) == [(i, 2) for i in sorted(ids)], "not every invoice is charged twice"
    assert refunds_per_invoice(path).total() == 0, "a fresh database already has refunds"


def test_the_database_is_where_the_tool_executor_of_that_data_dir_opens_it(
    tmp_path: Path,
) -> None:
    assert business_db_path(tmp_path) == tmp_path / "tool-executor" / "business.sqlite3"
