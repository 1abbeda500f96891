"""Per-tenant daily budgets: what each tenant spent today (UTC), and a refusal at the limit.

Spend is kept in a SQLite ledger of (tenant, UTC day) → tokens, cost that every process
of the service shares; each `record` is one atomic UPSERT, so concurrent writers lose
nothing. Limits come from `config/budgets.yaml`:

    default: {max_tokens_per_day: 2000000}
    tenants:
      acme: {max_tokens_per_day: 500000, max_cost_usd_per_day: 25.0}

A tenant without an entry gets `default`; with no default, it is not limited.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from shared.config.files import load_yaml_model
from shared.runtime import BudgetExhausted
from shared.storage import SqliteWorker

_SCHEMA = """
CREATE TABLE IF NOT EXISTS daily_spend (
  tenant_id TEXT NOT NULL,
  day TEXT NOT NULL,  -- UTC, ISO 8601 (2025-01-31)
  tokens INTEGER NOT NULL,
  cost_usd REAL NOT NULL,
  PRIMARY KEY (tenant_id, day)
);
"""


class TenantLimit(BaseModel):
    """A tenant's allowance per UTC day; None leaves that dimension unlimited.

    Example:
        >>> TenantLimit(max_tokens_per_day=500_000).max_cost_usd_per_day is None
        True
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_tokens_per_day: int | None = Field(default=None, ge=0)
    max_cost_usd_per_day: float | None = Field(default=None, ge=0)


class BudgetsFile(BaseModel):
    """The contents of `config/budgets.yaml`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: TenantLimit | None = None
    tenants: dict[str, TenantLimit] = Field(default_factory=dict)


def load_budgets(path: Path) -> tuple[TenantLimit | None, dict[str, TenantLimit]]:
    """The default limit and the per-tenant ones; errors name the file and the field."""
    budgets = load_yaml_model(path, BudgetsFile)
    return budgets.default, dict(budgets.tenants)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class TenantDailyBudget:
    """Checks and records each tenant's spend against its daily limit.

    Example:
        >>> default, limits = load_budgets(Path("config/budgets.yaml"))
        >>> budget = TenantDailyBudget(Path("var/inference/budgets.sqlite3"),
        ...                            limits=limits, default=default)
        >>> await budget.check("acme")  # doctest: +SKIP
        >>> await budget.record("acme", tokens=412, cost_usd=0.0021)  # doctest: +SKIP
    """

    def __init__(
        self,
        path: Path,
        *,
        limits: Mapping[str, TenantLimit],
        default: TenantLimit | None,
        clock: Callable[[], datetime] = _utc_now,  # timezone-aware
    ) -> None:
        self._limits = dict(limits)
        self._default = default
        self._clock = clock
        self._worker = SqliteWorker(path, schema=_SCHEMA, name="tenant-budget")

    async def check(self, tenant_id: str) -> None:
        """Raises `BudgetExhausted` when today's spend has reached one of the tenant's limits."""
        limit = self._limits.get(tenant_id, self._default)
        if limit is None:
            return
        day = self._today()
        tokens, cost = await self._spent(tenant_id, day)
        resets = f"on {day} (UTC); it resets at 00:00 UTC"
        if limit.max_tokens_per_day is not None and tokens >= limit.max_tokens_per_day:
            raise BudgetExhausted(
                f"tenant {tenant_id!r} has used {tokens} of its "
                f"{limit.max_tokens_per_day} tokens per day {resets}"
            )
        if limit.max_cost_usd_per_day is not None and cost >= limit.max_cost_usd_per_day:
            raise BudgetExhausted(
                f"tenant {tenant_id!r} has spent ${cost:.4f} of its "
                f"${limit.max_cost_usd_per_day:.4f} per day {resets}"
            )

    async def record(self, tenant_id: str, tokens: int, cost_usd: float) -> None:
        """Adds a step's spend to the tenant's total for today."""
        if tokens < 0 or cost_usd < 0:
            raise ValueError(f"spend cannot be negative: {tokens} tokens, ${cost_usd}")
        day = self._today()
        await self._worker.run(
            lambda db: db.execute(
                "INSERT INTO daily_spend (tenant_id, day, tokens, cost_usd) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (tenant_id, day) DO UPDATE SET"
                " tokens = tokens + excluded.tokens, cost_usd = cost_usd + excluded.cost_usd",
                (tenant_id, day, tokens, cost_usd),
            )
        )

    async def spent_today(self, tenant_id: str) -> tuple[int, float]:
        """Tokens and US dollars the tenant has used since 00:00 UTC."""
        return await self._spent(tenant_id, self._today())

    async def close(self) -> None:
        await self._worker.close()

    def _today(self) -> str:
        return self._clock().astimezone(UTC).date().isoformat()

    async def _spent(self, tenant_id: str, day: str) -> tuple[int, float]:
        def read(db: sqlite3.Connection) -> tuple[int, float]:
            row = db.execute(
                "SELECT tokens, cost_usd FROM daily_spend WHERE tenant_id = ? AND day = ?",
                (tenant_id, day),
            ).fetchone()
            return (0, 0.0) if row is None else (int(row["tokens"]), float(row["cost_usd"]))

        return await self._worker.run(read)
