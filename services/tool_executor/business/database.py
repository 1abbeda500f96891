"""The company database: schema, and demo data applied when the database is created."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from services.tool_executor.sqlite import connect

SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
  customer_id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  email TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS invoices (
  invoice_id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL REFERENCES customers (customer_id),
  amount_cents INTEGER NOT NULL CHECK (amount_cents >= 0),
  currency TEXT NOT NULL,
  status TEXT NOT NULL,
  charged_count INTEGER NOT NULL CHECK (charged_count >= 0),
  issued_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
  order_id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL REFERENCES customers (customer_id),
  status TEXT NOT NULL,
  carrier TEXT,
  tracking_number TEXT,
  estimated_delivery TEXT,
  updated_at TEXT NOT NULL
);
-- UNIQUE(idempotency_key) makes a refund and its key one fact: a rerun of the same call
-- finds the payment it made instead of paying again.
CREATE TABLE IF NOT EXISTS payments (
  payment_id TEXT PRIMARY KEY,
  invoice_id TEXT NOT NULL REFERENCES invoices (invoice_id),
  amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
  currency TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind = 'refund'),
  idempotency_key TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS payments_by_invoice ON payments (invoice_id);
"""

_SEEDED = 1


def open_business_db(path: Path, seed: Path) -> sqlite3.Connection:
    """The database at `path`, created with the schema and the `seed` SQL when new."""
    db = connect(path)
    if db.execute("PRAGMA user_version").fetchone()[0] < _SEEDED:
        script = seed.read_text(encoding="utf-8")
        try:
            db.executescript(
                f"BEGIN IMMEDIATE;\n{SCHEMA}\n{script}\nPRAGMA user_version = {_SEEDED};\nCOMMIT;"
            )
        except sqlite3.Error:
            if db.in_transaction:
                db.execute("ROLLBACK")
            db.close()
            raise
    return db
