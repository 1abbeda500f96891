"""`kill -9` of each service while requests are in flight, then a restart.

A crashed service commits nothing for the events it was handling: after the restart its
group hands them out again. Every request must still end in its normal outcome, and
every refund must be paid exactly once.
"""

import asyncio

import pytest

from services.catalog import SERVICE_NAMES
from tests.chaos.harness import ChaosStack, Traffic, drive

pytestmark = [pytest.mark.kafka, pytest.mark.chaos, pytest.mark.timeout(240)]

BURST = 16
WHILE_DOWN = 4
PACE_S = 0.2
KILL_AFTER_S = 0.3
DOWN_FOR_S = 1.5


@pytest.mark.parametrize("service", SERVICE_NAMES)
async def test_every_request_completes_and_pays_once_when_a_service_is_killed_mid_run(
    stack: ChaosStack, service: str
) -> None:
    async with Traffic(stack) as traffic:
        sent = await drive(traffic, count=BURST, pace_s=0)
        await asyncio.sleep(KILL_AFTER_S)
        in_flight = traffic.in_flight()
        stack.processes.kill(service)
        try:
            # Upstream keeps feeding the dead service's topic meanwhile.
            sent += await drive(traffic, count=WHILE_DOWN, pace_s=PACE_S)
            await asyncio.sleep(DOWN_FOR_S - WHILE_DOWN * PACE_S)
        finally:
            stack.processes.start(service)
        await traffic.wait_for(sent)
        delivery = traffic.delivery(sent)
    print(f"kill -9 {service} with {in_flight} in flight: {delivery.summary()}")
    assert in_flight > 0, "no request was in flight when the service was killed"
    delivery.assert_exactly_once_effects()
