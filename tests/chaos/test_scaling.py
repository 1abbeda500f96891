"""Scaling a consumer service from one process to two and back while requests flow.

Each scale step rebalances the service's consumer group: partitions move between
processes mid-stream. Nothing may be lost or paid twice, and the messages of one session
(one key, one partition) must still reach every step in the order they were sent.
"""

import asyncio

import pytest

from tests.chaos.harness import ChaosStack, Kind, Sent, Traffic

pytestmark = [pytest.mark.kafka, pytest.mark.chaos, pytest.mark.timeout(240)]

# One session per entry; a session's messages all take the same workflow.
SESSION_KINDS: tuple[Kind, ...] = ("refund", "order", "product", "refund")
PACE_S = 0.1
MIN_REQUESTS = 24
REPLICA_SETTLE_S = 2.0


@pytest.mark.parametrize("service", ["intent", "tool-executor"])
async def test_scaling_out_and_in_loses_nothing_pays_once_and_keeps_session_order(
    stack: ChaosStack, service: str
) -> None:
    async with Traffic(stack, record_steps=True) as traffic:
        sessions = [(kind, traffic.new_session("ordered")) for kind in SESSION_KINDS]
        scaled = asyncio.Event()
        sent: list[Sent] = []

        async def keep_sending() -> None:
            while not scaled.is_set() or len(sent) < MIN_REQUESTS:
                for kind, session in sessions:
                    sent.append(await traffic.send(kind, session_id=session))
                    await asyncio.sleep(PACE_S)

        sending = asyncio.create_task(keep_sending())
        replica, log_start = stack.start_replica(service, 2)
        try:
            await stack.wait_for_log(replica, f"started {service}", after=log_start)
            await asyncio.sleep(REPLICA_SETTLE_S)
        finally:
            stack.processes.stop(replica)
            scaled.set()
        await sending
        await traffic.wait_for(sent)
        delivery = traffic.delivery(sent)
        violations = traffic.session_order_violations(sent)
    print(f"scale {service} 1→2→1: {delivery.summary()}")
    delivery.assert_exactly_once_effects()
    assert not violations, "sessions reached steps out of send order:\n" + "\n".join(violations)
