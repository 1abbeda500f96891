"""A request handed to a person, over the real Kafka broker with six service processes
(scripted stand-in model): the handoff topic carries the whole conversation, and the
person's reply, checked like any answer, becomes the request's final response."""

from __future__ import annotations

import pytest

from conduit.handoffs import open_tickets, reply
from conduit.stack import ServiceProcesses
from shared.bus import Topics
from shared.client import ConduitClient
from shared.config import ConduitSettings
from shared.contracts import Response
from shared.testing import KafkaServer
from tests.e2e.conftest import STARTUP_TIMEOUT_S, describe, later_response

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.timeout(300)]

OFF_TOPIC = "Can you recommend a good movie for tonight?"


async def test_a_persons_reply_to_a_handed_over_request_becomes_its_final_answer(
    stack: ServiceProcesses,
    client: ConduitClient,
    responses_seen: list[Response],
    kafka_server: KafkaServer,
    topics: Topics,
) -> None:
    handed_off = await client.ask(OFF_TOPIC, session_id="e2e-handoff", timeout_s=STARTUP_TIMEOUT_S)
    assert handed_off.HasField("handoff"), f"expected a handoff: {handed_off}\n{describe(stack)}"
    request_id = handed_off.envelope.request_id
    settings = ConduitSettings(
        bus="kafka", kafka_bootstrap=kafka_server.bootstrap_servers, topic_prefix=topics.prefix
    )

    [ticket] = [
        t
        for t in await open_tickets(kafka_server.bootstrap_servers, topics)
        if t.response.envelope.request_id == request_id
    ]
    assert ticket.conversation.request.text == OFF_TOPIC, "the ticket must carry the message"
    assert ticket.conversation.intent.fallback, "and what the pipeline made of it"

    text = "We sell electronics only, but our blog has film-night gadget tips."
    assert await reply(settings, request_id, text, user="agent-ana")
    answer = await later_response(responses_seen, request_id, after="handoff")

    assert answer.HasField("answer"), f"the reply did not become the answer: {answer}"
    assert answer.answer.text == text, answer.answer.text
    still_open = await open_tickets(kafka_server.bootstrap_servers, topics)
    assert request_id not in {t.response.envelope.request_id for t in still_open}, (
        "an answered ticket must leave the open list"
    )
    assert not await reply(settings, request_id, "again", user="agent-bo"), (
        "an answered ticket cannot be answered twice"
    )
