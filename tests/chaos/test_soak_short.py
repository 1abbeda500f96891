"""A short soak: hundreds of concurrent requests through all six services over Kafka.

The CI cut of `make soak`: it checks delivery (nothing lost, no invoice paid twice), not
speed. Requests answered more than once are reported, not failed, for now.
"""

import pytest

from tests.chaos.harness import ChaosStack, Traffic, run_load

pytestmark = [pytest.mark.kafka, pytest.mark.chaos, pytest.mark.timeout(300)]

REQUESTS = 300
CONCURRENCY = 32


async def test_hundreds_of_concurrent_requests_lose_nothing_and_pay_each_refund_once(
    stack: ChaosStack,
) -> None:
    async with Traffic(stack) as traffic:
        run = await run_load(traffic, requests=REQUESTS, concurrency=CONCURRENCY)
        await traffic.wait_for(run.sent)
        delivery = traffic.delivery(run.sent)
    print(f"soak {REQUESTS}x{CONCURRENCY} in {run.wall_s:.1f} s: {delivery.summary()}")
    assert len(run.sent) == REQUESTS, f"only {len(run.sent)} of {REQUESTS} requests were sent"
    delivery.assert_exactly_once_effects()
