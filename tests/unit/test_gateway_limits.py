"""Per-tenant admission at the gateway: a token bucket per scope and a cap on asks in flight."""

from __future__ import annotations

import pytest

from services.gateway.errors import RateLimited
from services.gateway.limits import Limits, LocalAdmission, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_a_burst_then_says_how_long_until_the_next_token() -> None:
    clock = Clock()
    bucket = TokenBucket(rate_per_s=2, burst=3, clock=clock)

    taken = [bucket.take() for _ in range(3)]
    wait_s = bucket.take()

    assert taken == [0.0, 0.0, 0.0], f"the burst of 3 was not allowed: {taken}"
    assert wait_s == pytest.approx(0.5), f"at 2 tokens/s the next is 0.5 s away, not {wait_s}"


def test_a_bucket_refills_at_its_rate_and_never_beyond_its_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(rate_per_s=2, burst=2, clock=clock)
    bucket.take(), bucket.take()

    clock.now += 0.5
    after_half_a_second = bucket.take()
    clock.now += 60
    after_a_minute = [bucket.take() for _ in range(3)]

    assert after_half_a_second == 0.0, "one token should be back after 0.5 s at 2/s"
    assert after_a_minute[:2] == [0.0, 0.0], "a full bucket allows its burst"
    assert after_a_minute[2] > 0, "a quiet minute must not store more than the burst"


async def test_over_the_rate_is_refused_with_the_seconds_until_a_token() -> None:
    clock = Clock()
    admission = LocalAdmission(clock)
    limits = Limits(rate_per_s=0.25, burst=1, max_in_flight=10)
    async with admission.admit("acme", limits):
        pass

    with pytest.raises(RateLimited) as refused:
        async with admission.admit("acme", limits):
            pass

    assert refused.value.retry_after_s == pytest.approx(4.0), refused.value.retry_after_s
    assert refused.value.retry_after_header == "4"


async def test_tenants_are_limited_apart() -> None:
    admission = LocalAdmission(Clock())
    limits = Limits(rate_per_s=1, burst=1, max_in_flight=10)
    async with admission.admit("acme", limits):
        pass

    async with admission.admit("globex", limits):
        pass  # acme's spent token is not globex's


async def test_asks_in_flight_are_capped_and_a_finished_one_frees_its_slot() -> None:
    admission = LocalAdmission(Clock())
    limits = Limits(rate_per_s=100, burst=100, max_in_flight=2)

    async with admission.admit("acme", limits), admission.admit("acme", limits):
        with pytest.raises(RateLimited, match="unanswered"):
            async with admission.admit("acme", limits):
                pass
        assert await admission.in_flight("acme") == 2
    async with admission.admit("acme", limits):
        assert await admission.in_flight("acme") == 1, "finished asks must give their slots back"


async def test_a_failed_ask_gives_its_slot_back() -> None:
    admission = LocalAdmission(Clock())
    limits = Limits(rate_per_s=100, burst=100, max_in_flight=1)

    with pytest.raises(ConnectionError):
        async with admission.admit("acme", limits):
            raise ConnectionError("bus down")

    assert await admission.in_flight("acme") == 0, "an ask that raised kept its slot"


def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one() -> None:
    headers = [RateLimited("x", retry_after_s=s).retry_after_header for s in (0.01, 1.0, 2.2)]

    assert headers == ["1", "1", "3"], headers
