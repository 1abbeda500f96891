"""A record that is not a StepEvent, between two valid requests of the same session.

Same key, same partition: the poison must not block the partition. It goes to the
dead-letter topic and the request after it is answered.
"""

import pytest

from shared.runtime.deadletter import REASON, SERVICE
from tests.chaos.harness import ChaosStack, Traffic

pytestmark = [pytest.mark.kafka, pytest.mark.chaos, pytest.mark.timeout(120)]

POISON = b"\xff\x00 not a protobuf StepEvent"


async def test_a_poison_record_mid_partition_is_dead_lettered_and_the_next_request_served(
    stack: ChaosStack,
) -> None:
    async with Traffic(stack) as traffic:
        session = traffic.new_session("poison")
        before = await traffic.send("order", session_id=session)
        await traffic.publish_raw(POISON, key=session)
        after = await traffic.send("refund", session_id=session)
        await traffic.wait_for([before, after])
        delivery = traffic.delivery([before, after])
        poison = [m for m in traffic.dead_letters if m.value == POISON]
    delivery.assert_exactly_once_effects()
    assert delivery.outcomes() == {"answer": 2}, (
        f"both valid requests should be answered: {delivery.summary()}"
    )
    assert len(poison) == 1, f"expected the poison once in the dead-letter topic, got {len(poison)}"
    assert poison[0].headers.get(SERVICE) == "guardrail", poison[0].headers
    assert "undecodable" in poison[0].headers.get(REASON, ""), poison[0].headers
