"""Per-tenant limits shared by gateway replicas through the real Redis server: two
admissions on one Redis behave as one gateway would, whichever replica an ask lands on."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack

import pytest
from redis.asyncio import Redis

from services.gateway.errors import NotReady, RateLimited
from services.gateway.limits import Limits
from services.gateway.redis_limits import RedisAdmission
from services.gateway.server import admission_for
from services.gateway.settings import GatewaySettings
from shared.testing import RedisServer
from shared.testing._process import free_ports

pytestmark = [pytest.mark.redis, pytest.mark.timeout(60)]

Replica = Callable[..., RedisAdmission]


@pytest.fixture
async def replica(redis_server: RedisServer) -> AsyncIterator[Replica]:
    """Makes gateway replicas' admissions, all on the same Redis, under this test's prefix."""
    prefix = f"test:{uuid.uuid4().hex[:8]}"
    made: list[RedisAdmission] = []

    def make(*, lease_s: float = 30.0) -> RedisAdmission:
        admission = RedisAdmission(
            Redis.from_url(redis_server.url), lease_s=lease_s, key_prefix=prefix
        )
        made.append(admission)
        return admission

    yield make
    for admission in made:
        await admission.close()


async def _refusal(admission: RedisAdmission, scope: str, limits: Limits) -> RateLimited:
    with pytest.raises(RateLimited) as refused:
        async with admission.admit(scope, limits):
            pass
    return refused.value


async def test_the_rate_is_shared_by_every_replica(replica: Replica) -> None:
    first, second = replica(), replica()
    limits = Limits(rate_per_s=0.5, burst=2, max_in_flight=10)
    async with first.admit("acme", limits):
        pass
    async with second.admit("acme", limits):
        pass

    refused = await _refusal(first, "acme", limits)

    assert "over the rate" in str(refused), refused
    assert 1.5 < refused.retry_after_s <= 2.0, (
        f"at 0.5 asks/s the next token is up to 2 s away, not {refused.retry_after_s}"
    )
    async with second.admit("globex", limits):
        pass  # another tenant's bucket is its own


async def test_asks_in_flight_are_capped_across_replicas_and_freed_when_done(
    replica: Replica,
) -> None:
    first, second = replica(), replica()
    limits = Limits(rate_per_s=100, burst=100, max_in_flight=2)

    async with first.admit("acme", limits), second.admit("acme", limits):
        assert await first.in_flight("acme") == 2
        refused = await _refusal(second, "acme", limits)
        assert "unanswered" in str(refused), refused
    assert await second.in_flight("acme") == 0, "finished asks must give their slots back"
    async with second.admit("acme", limits):
        pass


async def test_the_slots_of_a_replica_that_died_free_themselves_when_the_lease_ends(
    replica: Replica,
) -> None:
    dying, survivor = replica(lease_s=0.5), replica()
    limits = Limits(rate_per_s=100, burst=100, max_in_flight=1)
    never_finished = AsyncExitStack()  # the ask's replica dies: its lease is never released
    await never_finished.enter_async_context(dying.admit("acme", limits))

    await _refusal(survivor, "acme", limits)
    await asyncio.sleep(0.7)

    async with survivor.admit("acme", limits):
        pass  # the dead replica's lease has expired


async def test_an_unreachable_store_admits_when_failing_open_and_refuses_when_not() -> None:
    [closed_port] = free_ports(1)
    url = f"redis://127.0.0.1:{closed_port}/0"
    limits = Limits(rate_per_s=1, burst=1, max_in_flight=1)
    open_on_failure = RedisAdmission(Redis.from_url(url), lease_s=5)
    closed_on_failure = RedisAdmission(Redis.from_url(url), lease_s=5, fail_open=False)
    try:
        async with open_on_failure.admit("acme", limits):
            pass  # admitted: availability over exact counting
        with pytest.raises(NotReady, match="unreachable"):
            async with closed_on_failure.admit("acme", limits):
                pass
    finally:
        await open_on_failure.close()
        await closed_on_failure.close()


async def test_the_gateway_shares_its_limits_when_given_a_redis_url(
    redis_server: RedisServer,
) -> None:
    admission = admission_for(GatewaySettings(limits_redis_url=redis_server.url))
    try:
        assert isinstance(admission, RedisAdmission), f"got {type(admission).__name__}"
    finally:
        await admission.close()
