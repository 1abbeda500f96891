"""Tenant daily budgets: spend adds up per UTC day, limits refuse loudly, config is checked."""

import asyncio
import multiprocessing
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.inference.tenant_budget import TenantDailyBudget, TenantLimit, load_budgets
from shared.config import ConduitSettings, ConfigFileError
from shared.runtime import BudgetExhausted


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2025, 3, 14, 23, 59, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def budget(tmp_path: Path, clock: FakeClock) -> AsyncIterator[TenantDailyBudget]:
    ledger = TenantDailyBudget(
        tmp_path / "budgets.sqlite3",
        limits={"acme": TenantLimit(max_tokens_per_day=5000, max_cost_usd_per_day=1.0)},
        default=TenantLimit(max_tokens_per_day=1000),
        clock=clock,
    )
    yield ledger
    await ledger.close()


async def test_a_tenant_under_its_limit_passes_the_check(budget: TenantDailyBudget) -> None:
    await budget.record("globex", tokens=999, cost_usd=0.0)

    await budget.check("globex")


async def test_a_tenant_at_its_token_limit_is_refused_with_tenant_limit_and_day_named(
    budget: TenantDailyBudget,
) -> None:
    await budget.record("globex", tokens=600, cost_usd=0.0)
    await budget.record("globex", tokens=400, cost_usd=0.0)

    with pytest.raises(BudgetExhausted, match=r"'globex'.*1000 of its 1000 tokens.*2025-03-14"):
        await budget.check("globex")


async def test_a_tenant_over_its_cost_limit_is_refused(budget: TenantDailyBudget) -> None:
    await budget.record("acme", tokens=10, cost_usd=1.25)

    with pytest.raises(BudgetExhausted, match=r"'acme'.*\$1\.2500 of its \$1\.0000"):
        await budget.check("acme")


async def test_spend_starts_afresh_on_the_next_utc_day(
    budget: TenantDailyBudget, clock: FakeClock
) -> None:
    await budget.record("globex", tokens=1000, cost_usd=0.5)
    clock.now += timedelta(minutes=2)

    await budget.check("globex")
    assert await budget.spent_today("globex") == (0, 0.0), "yesterday's spend carried over"


async def test_a_tenant_limit_overrides_the_default(budget: TenantDailyBudget) -> None:
    await budget.record("acme", tokens=4000, cost_usd=0.1)

    await budget.check("acme")  # over the default of 1000, under acme's own 5000


async def test_without_a_default_an_unlisted_tenant_is_not_limited(tmp_path: Path) -> None:
    ledger = TenantDailyBudget(tmp_path / "budgets.sqlite3", limits={}, default=None)
    try:
        await ledger.record("globex", tokens=10**9, cost_usd=10**6)
        await ledger.check("globex")
    finally:
        await ledger.close()


async def test_spend_is_summed_per_tenant(budget: TenantDailyBudget) -> None:
    await budget.record("acme", tokens=100, cost_usd=0.25)
    await budget.record("acme", tokens=50, cost_usd=0.5)
    await budget.record("globex", tokens=7, cost_usd=0.0)

    assert await budget.spent_today("acme") == (150, 0.75), "acme's spend was not summed"


def _record_many(path: str, tenant: str, times: int) -> None:
    async def record() -> None:
        ledger = TenantDailyBudget(Path(path), limits={}, default=None)
        try:
            for _ in range(times):
                await ledger.record(tenant, tokens=1, cost_usd=0.5)
        finally:
            await ledger.close()

    asyncio.run(record())


def test_two_processes_recording_at_once_lose_no_spend(tmp_path: Path) -> None:
    path = tmp_path / "budgets.sqlite3"
    context = multiprocessing.get_context("spawn")
    writers = [
        context.Process(target=_record_many, args=(str(path), "acme", 200)) for _ in range(2)
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=60)
    assert all(w.exitcode == 0 for w in writers), [w.exitcode for w in writers]

    async def spent() -> tuple[int, float]:
        ledger = TenantDailyBudget(path, limits={}, default=None)
        try:
            return await ledger.spent_today("acme")
        finally:
            await ledger.close()

    assert asyncio.run(spent()) == (400, 200.0), "concurrent records were lost"


async def test_a_negative_spend_is_refused(budget: TenantDailyBudget) -> None:
    with pytest.raises(ValueError, match="negative"):
        await budget.record("acme", tokens=-1, cost_usd=0.0)


def test_the_shipped_budgets_file_has_a_default_limit() -> None:
    default, _ = load_budgets(ConduitSettings().config_dir / "budgets.yaml")

    assert default is not None, "tenants without an entry would be unlimited"
    assert default.max_tokens_per_day, "the default sets no daily token limit"


def test_a_budgets_file_with_a_bad_field_names_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "budgets.yaml"
    path.write_text("tenants:\n  acme: {max_tokens_per_day: lots}\n")

    with pytest.raises(
        ConfigFileError, match=r"(?s)budgets\.yaml.*tenants\.acme\.max_tokens_per_day"
    ):
        load_budgets(path)
