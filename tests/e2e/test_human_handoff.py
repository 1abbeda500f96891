"""A request handed to a person, over the real Kafka broker with six service processes
(scripted stand-in model): the handoff topic carries the whole conversation, and the
person's reply, checked like any answer, becomes the request's final response."""

from __future__ import annotations

import pytest

from conduit.handoffs import open_tickets, render, reply
from conduit.stack import ServiceProcesses
from shared.bus import Topics
from shared.client import ConduitClient
from shared.config import ConduitSettings
from shared.contracts import Response
from shared.testing import KafkaServer
from tests.e2e.conftest import STARTUP_TIMEOUT_S, describe, later_response

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.timeout(300)]

OFF_TOPIC = "Can you recommend a good movie for tonight?"
CALM_OFF_TOPIC = "What is a good board game for a family of four?"
ESCALATION = (
    "This is a disgrace, you are useless. Get me a manager TODAY or my lawyer hears about "
    "invoice INV-1001 and order ORD-5001!!"
)


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


async def test_an_escalation_reaches_a_person_first_in_the_queue_with_its_priority(
    stack: ServiceProcesses, client: ConduitClient, kafka_server: KafkaServer, topics: Topics
) -> None:
    calm = await client.ask(CALM_OFF_TOPIC, session_id="e2e-calm", timeout_s=STARTUP_TIMEOUT_S)
    angry = await client.ask(ESCALATION, session_id="e2e-angry", timeout_s=STARTUP_TIMEOUT_S)

    assert angry.HasField("handoff"), f"an escalation must go to a person: {angry}"
    assert "intent escalation" in angry.handoff.reason, angry.handoff.reason
    assert angry.handoff.priority == "urgent", f"furious and urgent: {angry.handoff}"
    assert calm.handoff.priority == "normal", f"a calm off-topic question: {calm.handoff}"
    assert not angry.tool_exchanges, "nothing may be done for a request a person takes over"
    ids = [calm.envelope.request_id, angry.envelope.request_id]
    tickets = [
        t
        for t in await open_tickets(kafka_server.bootstrap_servers, topics)
        if t.response.envelope.request_id in ids
    ]
    assert [t.response.envelope.request_id for t in tickets] == ids[::-1], (
        "the urgent ticket must be listed before the older normal one"
    )
    assert "urgent" in render(tickets), render(tickets)
