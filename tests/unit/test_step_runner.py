"""The step runtime around a handler: decode, limits, retries, routing and publishing.

Handlers here are in-memory stand-ins: what is under test is the runtime's logic, on the
in-memory bus and the real `config/workflows`.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from shared.bus import BusMessage, MemoryBus, Topics
from shared.config import ConduitSettings, repo_root
from shared.contracts import (
    ErrorCode,
    HandoffTicket,
    ModelOutput,
    Response,
    StepEvent,
    ToolCall,
    ToolExchange,
    Verdict,
    WorkflowPosition,
    new_envelope,
    now_ms,
)
from shared.runtime import (
    DependencyUnavailable,
    InvalidArguments,
    RawConsumer,
    RecordRejected,
    StepCall,
    StepError,
    StepService,
    UnknownTool,
)
from shared.runtime.deadletter import ATTEMPTS, ORIGIN, REASON, REPLAYED_FROM, SERVICE
from shared.runtime.dedupe import ProcessedEvents
from shared.runtime.raw import RawRunner
from shared.runtime.retry import RetryRunner
from shared.runtime.steps import StepRunner
from shared.workflow import WorkflowRegistry
from shared.workflow.model import SERVICE_NAMES
from tests.fixtures.metrics import RecordedMetrics

HANDOFFS = "conduit.handoffs"

TOPICS = Topics("conduit")
SESSION = "session-1"

Script = Callable[[StepEvent, StepCall, int], Awaitable[None]]


@pytest.fixture(scope="module")
def registry() -> WorkflowRegistry:
    return WorkflowRegistry.load(repo_root() / "config" / "workflows")


@pytest.fixture
def settings(tmp_path: Path) -> ConduitSettings:
    return ConduitSettings(
        handler_attempts=3, retry_backoff_s=0, max_event_bytes=4_000, data_dir=tmp_path
    )


@dataclass
class FakeHandler:
    """An in-memory step handler: records its calls and runs `script` (attempt number given)."""

    script: Script | None = None
    calls: list[StepCall] = field(default_factory=list)

    async def __call__(self, event: StepEvent, call: StepCall) -> None:
        self.calls.append(call)
        if self.script is not None:
            await self.script(event, call, len(self.calls))


@dataclass
class Harness:
    """A bus, a runner per service under test, and everything published, by topic."""

    bus: MemoryBus
    settings: ConduitSettings
    registry: WorkflowRegistry
    published: dict[str, list[BusMessage]] = field(default_factory=lambda: defaultdict(list))

    def serve(self, service: str, handler: FakeHandler) -> None:
        runner = StepRunner(
            StepService(name=service, handle=handler),
            bus=self.bus,
            registry=self.registry,
            settings=self.settings,
            processed=ProcessedEvents(self.settings.data_dir / service / "processed.sqlite3"),
        )
        self.bus.subscribe([TOPICS.step(service)], group=service, handler=runner)
        retries = TOPICS.retries(service, self.settings.handler_attempts)
        self.bus.subscribe(
            retries, group=f"{service}.retry", handler=RetryRunner(runner, max_wait_s=1.0)
        )

    async def send(self, service: str, payload: StepEvent | bytes) -> None:
        value = payload if isinstance(payload, bytes) else payload.SerializeToString()
        await self.bus.publish(TOPICS.step(service), value, key=SESSION, headers={})

    async def settle(self) -> None:
        await asyncio.wait_for(self.bus.idle(), 5)
        await asyncio.sleep(0.01)  # listener callbacks run as their own tasks

    def responses(self) -> list[Response]:
        return [Response.FromString(m.value) for m in self.published[TOPICS.responses]]

    def response(self) -> Response:
        responses = self.responses()
        assert len(responses) == 1, f"expected exactly one response, got {responses}"
        return responses[0]

    def forwarded(self, service: str) -> list[StepEvent]:
        return [StepEvent.FromString(m.value) for m in self.published[TOPICS.step(service)]]


@pytest.fixture
async def harness(settings: ConduitSettings, registry: WorkflowRegistry) -> AsyncIterator[Harness]:
    harness = Harness(MemoryBus(redelivery_delay_s=0.001), settings, registry)
    topics = [TOPICS.responses, TOPICS.deadletter, TOPICS.handoff]
    topics += [TOPICS.step(s) for s in SERVICE_NAMES]
    for topic in topics:

        async def record(message: BusMessage, topic: str = topic) -> None:
            harness.published[topic].append(message)

        await harness.bus.listen(topic, record)
    await harness.bus.start()
    yield harness
    await harness.bus.stop()


def _event(workflow: str = "refund", step: str = "decide", *, steps_taken: int = 3) -> StepEvent:
    event = StepEvent(envelope=new_envelope(session_id=SESSION, max_tokens=8000))
    event.envelope.workflow.CopyFrom(
        WorkflowPosition(name=workflow, version="1.0", step=step, steps_taken=steps_taken)
    )
    event.request.text = "I was charged twice for INV-1001."
    return event


async def _ask_for_lookup(event: StepEvent, call: StepCall, attempt: int) -> None:
    event.model_output.CopyFrom(
        ModelOutput(
            tool_calls=[ToolCall(call_id="call-3-0", tool="lookup_invoice", arguments_json="{}")]
        )
    )
    event.envelope.budget.tokens_used += 120


def _raising(error: Exception) -> Script:
    async def script(event: StepEvent, call: StepCall, attempt: int) -> None:
        raise error

    return script


def _error_code(response: Response) -> int:
    assert response.WhichOneof("outcome") == "error", f"expected an error response: {response}"
    return response.error.code


# --- malformed input ---------------------------------------------------------------------


async def test_undecodable_bytes_are_dead_lettered_with_reason_service_and_origin(
    harness: Harness,
) -> None:
    harness.serve("inference", FakeHandler())
    await harness.send("inference", b"\xff\xff not a step event")
    await harness.settle()

    [letter] = harness.published[TOPICS.deadletter]
    [original] = harness.published[TOPICS.step("inference")]
    assert letter.value == original.value, "the dead letter must keep the original bytes"
    assert "undecodable" in letter.headers[REASON], f"reason missing: {letter.headers}"
    assert letter.headers[SERVICE] == "inference", f"service missing: {letter.headers}"
    assert letter.headers[ORIGIN] == (f"{original.topic}/{original.partition}@{original.offset}"), (
        f"origin must point at the rejected record: {letter.headers}"
    )
    assert letter.headers[ATTEMPTS] == "1", "a malformed record is never retried"


async def test_undecodable_bytes_produce_nothing_but_the_dead_letter(harness: Harness) -> None:
    handler = FakeHandler()
    harness.serve("inference", handler)
    await harness.send("inference", b"\xff\xff not a step event")
    await harness.settle()

    assert handler.calls == [], "the handler must not see an undecodable event"
    assert harness.responses() == [], "an undecodable event has no request to answer"
    assert len(harness.published[TOPICS.step("inference")]) == 1, "nothing may be forwarded"


async def test_the_runner_keeps_consuming_after_a_dead_letter(harness: Harness) -> None:
    handler = FakeHandler(_ask_for_lookup)
    harness.serve("inference", handler)
    await harness.send("inference", b"\xff\xff not a step event")
    await harness.send("inference", _event())
    await harness.settle()

    assert len(handler.calls) == 1, "the event after a dead letter must still be handled"
    assert len(harness.forwarded("tool-executor")) == 1, "the good event must be forwarded"


async def test_an_oversize_event_is_dead_lettered(harness: Harness) -> None:
    handler = FakeHandler()
    harness.serve("inference", handler)
    event = _event()
    event.request.text = "x" * 5_000
    await harness.send("inference", event)
    await harness.settle()

    [letter] = harness.published[TOPICS.deadletter]
    assert "oversize" in letter.headers[REASON], f"reason should say oversize: {letter.headers}"
    assert handler.calls == [], "an oversize event must not reach the handler"
    assert harness.responses() == [], "an oversize event is dead-lettered, not answered"


async def test_an_event_without_request_id_is_dead_lettered(harness: Harness) -> None:
    handler = FakeHandler()
    harness.serve("inference", handler)
    event = _event()
    event.envelope.request_id = ""
    await harness.send("inference", event)
    await harness.settle()

    [letter] = harness.published[TOPICS.deadletter]
    assert "request" in letter.headers[REASON], f"reason should name the gap: {letter.headers}"
    assert handler.calls == [], "an event without request id must not reach the handler"
    assert harness.responses() == [], "without a request id there is no one to answer"


# --- positions and limits ----------------------------------------------------------------


async def test_an_unknown_workflow_is_answered_with_an_error(harness: Harness) -> None:
    handler = FakeHandler()
    harness.serve("inference", handler)
    await harness.send("inference", _event("no_such_workflow", "decide"))
    await harness.settle()

    assert _error_code(harness.response()) == ErrorCode.ERROR_CODE_UNKNOWN_WORKFLOW
    assert handler.calls == [], "the handler must not run for an unknown workflow"


async def test_an_event_for_another_services_step_is_answered_with_an_error(
    harness: Harness,
) -> None:
    handler = FakeHandler()
    harness.serve("inference", handler)
    await harness.send("inference", _event("refund", "act"))
    await harness.settle()

    response = harness.response()
    assert _error_code(response) == ErrorCode.ERROR_CODE_INTERNAL, f"wrong code: {response}"
    assert "misrouted" in response.error.message, f"should say misrouted: {response.error}"
    assert handler.calls == [], "a service must not run another service's step"


async def test_a_passed_deadline_is_answered_without_calling_the_handler(
    harness: Harness,
) -> None:
    handler = FakeHandler()
    harness.serve("inference", handler)
    event = _event()
    event.envelope.deadline_unix_ms = now_ms() - 1_000
    await harness.send("inference", event)
    await harness.settle()

    assert _error_code(harness.response()) == ErrorCode.ERROR_CODE_DEADLINE_EXCEEDED
    assert handler.calls == [], "a request past its deadline must not be handled"


async def test_a_handler_running_past_the_deadline_ends_the_request(harness: Harness) -> None:
    async def slow(event: StepEvent, call: StepCall, attempt: int) -> None:
        await asyncio.sleep(5)

    handler = FakeHandler(slow)
    harness.serve("inference", handler)
    event = _event()
    event.envelope.deadline_unix_ms = now_ms() + 50
    await harness.send("inference", event)
    await harness.settle()

    assert _error_code(harness.response()) == ErrorCode.ERROR_CODE_DEADLINE_EXCEEDED
    assert len(handler.calls) == 1, "a step cut off by the deadline must not be retried"
    assert harness.forwarded("tool-executor") == [], "a timed-out step must not be forwarded"


async def test_a_request_at_its_step_limit_is_answered_with_an_error(harness: Harness) -> None:
    handler = FakeHandler()
    harness.serve("inference", handler)
    await harness.send("inference", _event(steps_taken=20))
    await harness.settle()

    assert _error_code(harness.response()) == ErrorCode.ERROR_CODE_MAX_STEPS_EXCEEDED
    assert handler.calls == [], "no step may run beyond the workflow's max_steps"


async def test_a_request_over_its_token_budget_is_answered_with_an_error(
    harness: Harness,
) -> None:
    handler = FakeHandler()
    harness.serve("inference", handler)
    event = _event()
    event.envelope.budget.tokens_used = event.envelope.budget.max_tokens + 1
    await harness.send("inference", event)
    await harness.settle()

    assert _error_code(harness.response()) == ErrorCode.ERROR_CODE_BUDGET_EXHAUSTED
    assert handler.calls == [], "a request over budget must not be handled"


async def test_a_step_that_spends_the_rest_of_the_budget_is_not_forwarded(
    harness: Harness,
) -> None:
    async def spend(event: StepEvent, call: StepCall, attempt: int) -> None:
        await _ask_for_lookup(event, call, attempt)
        event.envelope.budget.tokens_used = event.envelope.budget.max_tokens + 1

    harness.serve("inference", FakeHandler(spend))
    await harness.send("inference", _event())
    await harness.settle()

    assert _error_code(harness.response()) == ErrorCode.ERROR_CODE_BUDGET_EXHAUSTED
    assert harness.forwarded("tool-executor") == [], "an exhausted budget must stop routing"


# --- handler failures --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (UnknownTool("no tool 'x'"), ErrorCode.ERROR_CODE_UNKNOWN_TOOL),
        (InvalidArguments("amount must be positive"), ErrorCode.ERROR_CODE_INVALID_ARGUMENTS),
    ],
)
async def test_a_typed_step_error_is_answered_with_its_code(
    harness: Harness, error: StepError, code: int
) -> None:
    handler = FakeHandler(_raising(error))
    harness.serve("inference", handler)
    await harness.send("inference", _event())
    await harness.settle()

    response = harness.response()
    assert _error_code(response) == code, f"wrong code: {response.error}"
    assert (response.error.message, response.error.service, response.error.step) == (
        error.message,
        "inference",
        "decide",
    ), f"the error must say what failed where: {response.error}"
    assert len(handler.calls) == 1, "a typed (permanent) failure must not be retried"
    assert harness.published[TOPICS.deadletter] == [], "a typed failure is not a dead letter"


async def test_a_transient_failure_is_retried_until_the_handler_succeeds(
    harness: Harness,
) -> None:
    async def flaky(event: StepEvent, call: StepCall, attempt: int) -> None:
        if attempt < 3:
            raise RuntimeError(f"transient failure {attempt}")
        await _ask_for_lookup(event, call, attempt)

    handler = FakeHandler(flaky)
    harness.serve("inference", handler)
    await harness.send("inference", _event())
    await harness.settle()

    assert len(handler.calls) == 3, "the handler should be tried handler_attempts times"
    assert len(harness.forwarded("tool-executor")) == 1, "the third attempt's result is routed"
    assert harness.responses() == [], "a step that finally succeeded must not be answered"
    assert harness.published[TOPICS.deadletter] == [], "a retried success is not a dead letter"


async def test_a_failed_step_is_retried_through_the_retry_topic_not_in_place(
    harness: Harness,
) -> None:
    retried: list[BusMessage] = []

    async def record(message: BusMessage) -> None:
        retried.append(message)

    await harness.bus.listen(TOPICS.retry("inference", 1), record)

    async def fail_first(event: StepEvent, call: StepCall, attempt: int) -> None:
        if attempt == 1:
            raise RuntimeError("model server restarting")
        await _ask_for_lookup(event, call, attempt)

    harness.serve("inference", FakeHandler(fail_first))
    event = _event()
    await harness.send("inference", event)
    await harness.settle()

    [retry] = retried
    assert retry.value == event.SerializeToString(), "the retry must carry the original event"
    assert retry.headers["conduit-attempt"] == "2", f"attempt not counted: {retry.headers}"
    assert "model server restarting" in retry.headers["conduit-retry-reason"], retry.headers
    assert retry.headers["conduit-retry-origin"].startswith(TOPICS.step("inference")), (
        f"the retry must remember where the event came from: {retry.headers}"
    )
    assert len(harness.forwarded("tool-executor")) == 1, "the retried step was not completed"


async def test_a_failed_attempts_partial_changes_are_discarded(harness: Harness) -> None:
    async def flaky(event: StepEvent, call: StepCall, attempt: int) -> None:
        event.tool_exchanges.append(ToolExchange(idempotency_key=f"attempt-{attempt}"))
        event.envelope.budget.tokens_used += 1_000
        if attempt < 3:
            raise RuntimeError("failed half way")
        await _ask_for_lookup(event, call, attempt)

    harness.serve("inference", FakeHandler(flaky))
    event = _event()
    await harness.send("inference", event)
    await harness.settle()

    [forwarded] = harness.forwarded("tool-executor")
    assert [x.idempotency_key for x in forwarded.tool_exchanges] == ["attempt-3"], (
        "changes made by failed attempts leaked into the forwarded event"
    )
    assert forwarded.envelope.budget.tokens_used == 1_120, (
        "tokens counted by failed attempts leaked into the budget"
    )


async def test_a_handler_that_always_fails_is_dead_lettered_and_answered(
    harness: Harness,
) -> None:
    handler = FakeHandler(_raising(RuntimeError("database is down")))
    harness.serve("inference", handler)
    await harness.send("inference", _event())
    await harness.settle()

    [letter] = harness.published[TOPICS.deadletter]
    assert letter.headers[ATTEMPTS] == "3", f"the dead letter should count attempts: {letter}"
    assert "database is down" in letter.headers[REASON], f"reason lost: {letter.headers}"
    response = harness.response()
    assert _error_code(response) == ErrorCode.ERROR_CODE_INTERNAL, f"wrong code: {response}"
    assert len(handler.calls) == 3, "the handler should be tried handler_attempts times"
    assert harness.forwarded("tool-executor") == [], "a failed step must not be forwarded"
    assert letter.headers[ORIGIN].startswith(TOPICS.step("inference")), (
        f"the dead letter must name the original topic, not a retry topic: {letter.headers}"
    )


async def test_a_dependency_down_through_every_attempt_ends_as_dependency_unavailable(
    harness: Harness,
) -> None:
    handler = FakeHandler(_raising(DependencyUnavailable("Weaviate unavailable")))
    harness.serve("inference", handler)
    await harness.send("inference", _event())
    await harness.settle()

    response = harness.response()
    assert _error_code(response) == ErrorCode.ERROR_CODE_DEPENDENCY_UNAVAILABLE, response
    assert len(handler.calls) == 3, "an unavailable dependency must be retried first"


# --- routing and publishing --------------------------------------------------------------


async def test_a_successful_step_is_forwarded_to_the_next_services_topic(
    harness: Harness,
) -> None:
    harness.serve("inference", FakeHandler(_ask_for_lookup))
    event = _event()
    await harness.send("inference", event)
    await harness.settle()

    [message] = harness.published[TOPICS.step("tool-executor")]
    forwarded = StepEvent.FromString(message.value)
    envelope = forwarded.envelope
    assert envelope.event_id not in ("", event.envelope.event_id), "a new event needs a new id"
    assert envelope.causation_id == event.envelope.event_id, "causation must be the old event"
    assert (envelope.workflow.name, envelope.workflow.step, envelope.workflow.steps_taken) == (
        "refund",
        "act",
        4,
    ), f"the position must move to the next step and count it: {envelope.workflow}"
    assert message.key == SESSION.encode(), "step events are keyed by session"
    assert message.headers["conduit-request-id"] == event.envelope.request_id, "headers lost"
    assert forwarded.model_output.tool_calls[0].tool == "lookup_invoice", "handler output lost"


async def test_an_event_delivered_twice_is_handled_once(harness: Harness) -> None:
    handler = FakeHandler(_ask_for_lookup)
    harness.serve("inference", handler)
    event = _event()
    await harness.send("inference", event)
    await harness.settle()
    await harness.send("inference", event)
    await harness.settle()

    assert len(handler.calls) == 1, f"a duplicate event ran the step again: {len(handler.calls)}"
    assert len(harness.forwarded("tool-executor")) == 1, "a duplicate event was forwarded again"


async def test_a_replayed_dead_letter_is_handled_again(harness: Harness) -> None:
    handler = FakeHandler(_ask_for_lookup)
    harness.serve("inference", handler)
    event = _event()
    await harness.send("inference", event)
    await harness.settle()
    await harness.bus.publish(
        TOPICS.step("inference"),
        event.SerializeToString(),
        key=SESSION,
        headers={REPLAYED_FROM: "0:17"},
    )
    await harness.settle()

    assert len(handler.calls) == 2, "an operator's replay was skipped as a duplicate"


async def test_a_step_that_runs_twice_emits_the_same_event_id_both_times(
    harness: Harness, settings: ConduitSettings
) -> None:
    harness.serve("inference", FakeHandler(_ask_for_lookup))
    event = _event()
    await harness.send("inference", event)
    await harness.settle()
    other = ProcessedEvents(settings.data_dir / "other" / "processed.sqlite3")
    again = StepRunner(
        StepService(name="inference", handle=FakeHandler(_ask_for_lookup)),
        bus=harness.bus,
        registry=harness.registry,
        settings=settings,
        processed=other,
    )
    await again(BusMessage(topic=TOPICS.step("inference"), value=event.SerializeToString()))
    await harness.settle()

    first, second = harness.forwarded("tool-executor")
    assert first.envelope.event_id == second.envelope.event_id, (
        "a re-run step (a redelivery after a crash) must emit the same id so the next "
        "service can recognise the duplicate"
    )


async def test_a_successful_step_appends_its_step_record(harness: Harness) -> None:
    harness.serve("inference", FakeHandler(_ask_for_lookup))
    await harness.send("inference", _event())
    await harness.settle()

    [forwarded] = harness.forwarded("tool-executor")
    [record] = forwarded.steps
    assert (record.service, record.step, record.outcome, record.tokens) == (
        "inference",
        "decide",
        "ok",
        120,
    ), f"the step record should describe the step that ran: {record}"
    assert record.started_unix_us > 0, "the step record needs a start time"


async def test_a_new_request_starts_at_the_entry_workflow(harness: Harness) -> None:
    handler = FakeHandler()
    harness.serve("guardrail", handler)
    event = StepEvent(envelope=new_envelope(session_id=SESSION))
    await harness.send("guardrail", event)
    await harness.settle()

    assert [(c.workflow, c.step_id) for c in handler.calls] == [("triage", "screen_input")], (
        "an event without position must run the entry workflow's start step"
    )
    [forwarded] = harness.forwarded("intent")
    assert (forwarded.envelope.workflow.step, forwarded.envelope.workflow.steps_taken) == (
        "classify",
        1,
    ), "the first step counts as one step taken"


async def test_the_handler_gets_the_steps_params(harness: Harness) -> None:
    handler = FakeHandler()
    harness.serve("guardrail", handler)
    event = _event("refund", "check_answer", steps_taken=9)
    event.output_guard.verdict = Verdict.VERDICT_PASS
    await harness.send("guardrail", event)
    await harness.settle()

    assert handler.calls[0].params["stage"] == "output", "step params must reach the handler"


async def test_a_step_routed_to_respond_publishes_the_answer(harness: Harness) -> None:
    async def approve(event: StepEvent, call: StepCall, attempt: int) -> None:
        event.output_guard.verdict = Verdict.VERDICT_PASS

    harness.serve("guardrail", FakeHandler(approve))
    event = _event("refund", "check_answer", steps_taken=9)
    event.model_output.text = "Your refund of 49.99 USD is on its way."
    event.model_output.sources.append("refund-policy#1")
    await harness.send("guardrail", event)
    await harness.settle()

    response = harness.response()
    assert response.WhichOneof("outcome") == "answer", f"expected an answer: {response}"
    assert response.answer.text == "Your refund of 49.99 USD is on its way.", "answer text lost"
    assert list(response.answer.sources) == ["refund-policy#1"], "answer sources lost"
    assert response.envelope.causation_id == event.envelope.event_id, "causation must be kept"
    assert [s.step for s in response.steps] == ["check_answer"], "the step table is incomplete"
    assert harness.published[TOPICS.handoff] == [], "an answer is not a handoff"


async def test_a_step_routed_to_handoff_publishes_to_responses_and_handoff(
    harness: Harness,
) -> None:
    async def reject(event: StepEvent, call: StepCall, attempt: int) -> None:
        event.output_guard.verdict = Verdict.VERDICT_REJECT
        event.output_guard.findings.append("refund claim without refund")

    harness.serve("guardrail", FakeHandler(reject))
    await harness.send("guardrail", _event("refund", "check_answer", steps_taken=9))
    await harness.settle()

    response = harness.response()
    assert response.WhichOneof("outcome") == "handoff", f"expected a handoff: {response}"
    assert "refund claim without refund" in response.handoff.reason, "findings must be the reason"
    [handed_off] = harness.published[TOPICS.handoff]
    ticket = HandoffTicket.FromString(handed_off.value)
    assert ticket.response == response, "the ticket must carry the response the client got"
    assert list(ticket.conversation.output_guard.findings) == ["refund claim without refund"], (
        "the ticket must carry the conversation as it stood, for the person taking over"
    )


async def test_a_handoff_ticket_carries_the_priority_read_from_the_request(
    harness: Harness,
) -> None:
    async def reject(event: StepEvent, call: StepCall, attempt: int) -> None:
        event.output_guard.verdict = Verdict.VERDICT_REJECT

    harness.serve("guardrail", FakeHandler(reject))
    event = _event("refund", "check_answer", steps_taken=9)
    event.intent.priority, event.intent.sentiment, event.intent.urgency = "urgent", -0.8, 0.75
    await harness.send("guardrail", event)
    await harness.settle()

    handoff = harness.response().handoff
    assert (handoff.priority, round(handoff.sentiment, 2), handoff.urgency) == (
        "urgent",
        -0.8,
        0.75,
    ), f"the person taking over must see how urgent it is: {handoff}"


async def test_every_handoff_is_counted_by_priority(
    harness: Harness, recorded_metrics: RecordedMetrics
) -> None:
    async def reject(event: StepEvent, call: StepCall, attempt: int) -> None:
        event.output_guard.verdict = Verdict.VERDICT_REJECT

    harness.serve("guardrail", FakeHandler(reject))
    event = _event("refund", "check_answer", steps_taken=9)
    event.intent.priority = "high"
    before = recorded_metrics.total(HANDOFFS, priority="high", workflow="refund")

    await harness.send("guardrail", event)
    await harness.settle()

    after = recorded_metrics.total(HANDOFFS, priority="high", workflow="refund")
    assert after - before == 1, "a handoff must add one to conduit.handoffs for its priority"


# --- raw consumers -----------------------------------------------------------------------


@dataclass
class RawHarness:
    handled: list[dict[str, str]] = field(default_factory=list)

    def consumer(self) -> RawConsumer[dict[str, str]]:
        async def handle(payload: dict[str, str]) -> None:
            self.handled.append(payload)

        return RawConsumer(
            name="documents",
            topic=lambda topics: topics.documents,
            decode=json.loads,
            handle=handle,
        )


def _raw_message(value: bytes) -> BusMessage:
    return BusMessage(topic=TOPICS.documents, value=value, key=b"doc-1", partition=2, offset=9)


async def _dead_letters(bus: MemoryBus) -> list[BusMessage]:
    letters: list[BusMessage] = []

    async def record(message: BusMessage) -> None:
        letters.append(message)

    await bus.listen(TOPICS.deadletter, record)
    return letters


async def test_a_raw_record_that_does_not_decode_is_dead_lettered(
    settings: ConduitSettings,
) -> None:
    bus, raw = MemoryBus(), RawHarness()
    letters = await _dead_letters(bus)
    runner = RawRunner(raw.consumer(), service="retrieval", bus=bus, settings=settings)

    await runner(_raw_message(b"{not json"))
    await asyncio.sleep(0.01)
    await bus.stop()

    [letter] = letters
    assert letter.value == b"{not json", "the dead letter must keep the original bytes"
    assert "undecodable" in letter.headers[REASON], f"reason missing: {letter.headers}"
    assert letter.headers[SERVICE] == "retrieval", f"service missing: {letter.headers}"
    assert letter.headers[ORIGIN] == f"{TOPICS.documents}/2@9", f"origin wrong: {letter.headers}"
    assert raw.handled == [], "an undecodable record must not be handled"


async def test_an_oversize_raw_record_is_dead_lettered(settings: ConduitSettings) -> None:
    bus, raw = MemoryBus(), RawHarness()
    letters = await _dead_letters(bus)
    runner = RawRunner(raw.consumer(), service="retrieval", bus=bus, settings=settings)

    await runner(_raw_message(json.dumps({"text": "x" * 5_000}).encode()))
    await asyncio.sleep(0.01)
    await bus.stop()

    [letter] = letters
    assert "oversize" in letter.headers[REASON], f"reason should say oversize: {letter.headers}"
    assert raw.handled == [], "an oversize record must not be handled"


async def test_a_good_raw_record_is_decoded_and_handled(settings: ConduitSettings) -> None:
    bus, raw = MemoryBus(), RawHarness()
    letters = await _dead_letters(bus)
    runner = RawRunner(raw.consumer(), service="retrieval", bus=bus, settings=settings)

    await runner(_raw_message(b'{"document_id": "warranty"}'))
    await asyncio.sleep(0.01)
    await bus.stop()

    assert raw.handled == [{"document_id": "warranty"}], "the decoded payload was not handled"
    assert letters == [], "a good record must not be dead-lettered"


class FlakyHandle:
    """Fails with `error` for the first `failures` calls, then succeeds."""

    def __init__(self, error: Exception, failures: int) -> None:
        self.error, self.failures, self.calls = error, failures, 0

    async def __call__(self, payload: dict[str, str]) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error


def _consumer(handle: FlakyHandle) -> RawConsumer[dict[str, str]]:
    return RawConsumer(
        name="documents", topic=lambda topics: topics.documents, decode=json.loads, handle=handle
    )


async def test_a_raw_handler_that_fails_briefly_is_retried_until_it_succeeds(
    settings: ConduitSettings,
) -> None:
    bus, handle = MemoryBus(), FlakyHandle(ConnectionError("store down"), failures=2)
    letters = await _dead_letters(bus)
    runner = RawRunner(_consumer(handle), service="retrieval", bus=bus, settings=settings)

    await runner(_raw_message(b'{"document_id": "warranty"}'))
    await bus.stop()

    assert handle.calls == 3, f"expected two retries, got {handle.calls} calls"
    assert letters == [], "a record that finally succeeded must not be dead-lettered"


async def test_a_raw_handler_failing_every_attempt_is_dead_lettered_with_the_error(
    settings: ConduitSettings,
) -> None:
    bus, handle = MemoryBus(), FlakyHandle(ConnectionError("store down"), failures=99)
    letters = await _dead_letters(bus)
    runner = RawRunner(_consumer(handle), service="retrieval", bus=bus, settings=settings)

    await runner(_raw_message(b'{"document_id": "warranty"}'))
    await asyncio.sleep(0.01)
    await bus.stop()

    [letter] = letters
    assert handle.calls == settings.handler_attempts, "attempts must be bounded"
    assert "after 3 attempts" in letter.headers[REASON], letter.headers
    assert "store down" in letter.headers[REASON], letter.headers
    assert letter.headers[ATTEMPTS] == "3", letter.headers


async def test_a_rejected_raw_record_is_dead_lettered_without_retries(
    settings: ConduitSettings,
) -> None:
    bus, handle = MemoryBus(), FlakyHandle(RecordRejected("too many chunks"), failures=99)
    letters = await _dead_letters(bus)
    runner = RawRunner(_consumer(handle), service="retrieval", bus=bus, settings=settings)

    await runner(_raw_message(b'{"document_id": "warranty"}'))
    await asyncio.sleep(0.01)
    await bus.stop()

    [letter] = letters
    assert handle.calls == 1, "a rejected record must not be retried"
    assert "too many chunks" in letter.headers[REASON], letter.headers
