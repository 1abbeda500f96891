"""Restarting the Kafka broker while requests are in flight.

Producers and consumers of every service lose their connections; the broker comes back on
the same ports with the same data, and the pipeline must resume where it stopped.
"""

import asyncio

import pytest

from tests.chaos.harness import ChaosStack, Traffic, drive

pytestmark = [pytest.mark.kafka, pytest.mark.chaos, pytest.mark.timeout(240)]

REQUESTS = 20
PACE_S = 0.05
RESTART_AFTER_S = 0.2


async def test_every_request_completes_and_pays_once_across_a_broker_restart(
    stack: ChaosStack,
) -> None:
    async with Traffic(stack) as traffic:
        sent = await drive(traffic, count=REQUESTS // 2, pace_s=PACE_S)
        await asyncio.sleep(RESTART_AFTER_S)
        in_flight = traffic.in_flight()
        await asyncio.to_thread(stack.kafka.restart)
        sent += await drive(traffic, count=REQUESTS - len(sent), pace_s=PACE_S)
        await traffic.wait_for(sent)
        delivery = traffic.delivery(sent)
    print(f"broker restart with {in_flight} in flight: {delivery.summary()}")
    assert in_flight > 0, "no request was in flight when the broker restarted"
    delivery.assert_exactly_once_effects()
