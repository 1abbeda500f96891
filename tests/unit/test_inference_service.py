"""The inference step and the agent output format it parses.

The model here is `ScriptedBackend`: a deterministic scripted stand-in, not a language
model. It picks the first offered tool (or answers citing the first allowed source), so
these tests check the service's parsing, ids and budget accounting, not model quality.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from services.inference.backends import Generation, GenerationRequest, ModelBackend
from services.inference.backends.base import DeltaSink
from services.inference.backends.scripted import SCRIPTED_MODEL, ScriptedBackend
from services.inference.routing import ModelRouter, ModelSpec, single_model_catalog
from services.inference.service import InferenceStep
from services.inference.settings import InferenceSettings
from shared.agent import (
    ANSWER,
    CALL_TOOL,
    MalformedOutput,
    ParsedToolCall,
    answer_option,
    output_schema,
    parse_output,
    tool_call_option,
)
from shared.contracts import PromptMessage, StepEvent, ToolCall, WorkflowPosition, new_envelope
from shared.models.chat import ChatMessage
from shared.runtime import BudgetExhausted, ModelOutputInvalid, StepCall

DECIDE = StepCall(workflow="refund", step_id="decide", params={"max_tokens": 120})
SOURCES = ["refund-policy#1", "refund-policy#2"]
INVOICE_ARGUMENTS = {
    "type": "object",
    "properties": {"invoice_id": {"type": "string", "enum": ["INV-1001"]}},
    "required": ["invoice_id"],
    "additionalProperties": False,
}


def _settings(**overrides: Any) -> InferenceSettings:
    return InferenceSettings(backend="scripted", **overrides)


def _step(backend: ModelBackend, settings: InferenceSettings) -> InferenceStep:
    """The step with `backend` as its one model, priced as `settings` says."""
    spec = ModelSpec(
        backend="scripted",
        price_per_1k_input_usd=settings.price_per_1k_input_usd,
        price_per_1k_output_usd=settings.price_per_1k_output_usd,
    )
    catalog = single_model_catalog("only", spec)
    return InferenceStep(ModelRouter(catalog, {"only": backend}), settings)


def _event(schema: dict[str, Any] | None, *, steps_taken: int = 5) -> StepEvent:
    event = StepEvent(envelope=new_envelope(session_id="session-1", max_tokens=8000))
    event.envelope.workflow.CopyFrom(
        WorkflowPosition(name="refund", version="1.0", step="decide", steps_taken=steps_taken)
    )
    event.prompt.messages.extend(
        [
            PromptMessage(role="system", content="You are the billing assistant."),
            PromptMessage(role="user", content="Refund my duplicate charge on INV-1001."),
        ]
    )
    event.prompt.token_count = 40
    event.prompt.output_schema_json = json.dumps(schema) if schema is not None else ""
    return event


def _tool_schema() -> dict[str, Any]:
    return output_schema([tool_call_option("lookup_invoice", INVOICE_ARGUMENTS)], None)


def _answer_schema() -> dict[str, Any]:
    return output_schema([], answer_option(SOURCES))


@dataclass
class FixedBackend:
    """A backend that returns `text` whatever it is asked, and records the requests."""

    text: str
    name: str = "fixed"
    requests: list[GenerationRequest] = field(default_factory=list)

    def warm_up(self) -> None:
        """Nothing to load."""

    async def generate(
        self, request: GenerationRequest, on_delta: DeltaSink | None = None
    ) -> Generation:
        self.requests.append(request)
        if on_delta is not None:
            for piece in (self.text[: len(self.text) // 2], self.text[len(self.text) // 2 :]):
                await on_delta(piece)
        return Generation(
            text=self.text, input_tokens=40, output_tokens=5, finish_reason="stop", model=self.name
        )


# --- the inference step ------------------------------------------------------------------


async def test_a_tool_call_is_parsed_with_a_deterministic_call_id() -> None:
    event = _event(_tool_schema(), steps_taken=5)

    await _step(ScriptedBackend(), _settings()).handle(event, DECIDE)

    assert list(event.model_output.tool_calls) == [
        ToolCall(
            call_id="call-5-0", tool="lookup_invoice", arguments_json='{"invoice_id": "INV-1001"}'
        )
    ], f"the tool call was not parsed as expected: {event.model_output}"
    assert event.model_output.text == "", "a tool call carries no answer text"


async def test_a_redelivered_step_reproduces_the_same_tool_calls() -> None:
    step = _step(ScriptedBackend(), _settings())
    first, second = _event(_tool_schema()), _event(_tool_schema())
    second.envelope.request_id = first.envelope.request_id

    await step.handle(first, DECIDE)
    await step.handle(second, DECIDE)

    assert first.model_output.tool_calls == second.model_output.tool_calls, (
        "the same request and step must produce the same calls and call ids"
    )


async def test_an_answer_is_parsed_with_its_sources() -> None:
    event = _event(_answer_schema())

    await _step(ScriptedBackend(), _settings()).handle(event, DECIDE)

    output = event.model_output
    assert output.text, "the answer text was lost"
    assert list(output.sources) == ["refund-policy#1"], f"sources not parsed: {output.sources}"
    assert list(output.tool_calls) == [], "an answer has no tool calls"
    assert output.model == SCRIPTED_MODEL, "the output must name the model that produced it"


async def test_without_a_schema_the_text_is_kept_as_it_is() -> None:
    backend = FixedBackend("Plain words, not JSON.")
    event = _event(None)

    await _step(backend, _settings()).handle(event, DECIDE)

    assert event.model_output.text == "Plain words, not JSON.", "free text must not be parsed"
    assert backend.requests[0].json_schema is None, "no schema must reach the backend"


async def test_the_tokens_of_a_generation_are_added_to_the_budget() -> None:
    event = _event(_answer_schema())
    event.envelope.budget.tokens_used = 100

    await _step(ScriptedBackend(), _settings()).handle(event, DECIDE)

    output = event.model_output
    assert output.input_tokens > 0, "input tokens were not recorded"
    assert output.output_tokens > 0, "output tokens were not recorded"
    assert event.envelope.budget.tokens_used == 100 + output.input_tokens + output.output_tokens, (
        "the budget must grow by the generation's input and output tokens"
    )


async def test_the_cost_of_a_generation_is_added_to_the_budget() -> None:
    settings = _settings(price_per_1k_input_usd=1.0, price_per_1k_output_usd=2.0)
    event = _event(_answer_schema())

    await _step(
        FixedBackend('{"action": "answer", "text": "ok", "sources": ["a"]}'), settings
    ).handle(event, DECIDE)

    expected = (40 * 1.0 + 5 * 2.0) / 1000
    assert event.model_output.cost_usd == pytest.approx(expected), "cost priced wrongly"
    assert event.envelope.budget.cost_used_usd == pytest.approx(expected), "cost not spent"


async def test_a_prompt_that_does_not_fit_the_remaining_budget_is_refused() -> None:
    backend = FixedBackend("unused")
    event = _event(_answer_schema())
    event.envelope.budget.max_tokens = 1000
    event.envelope.budget.tokens_used = 960
    event.prompt.token_count = 40

    with pytest.raises(BudgetExhausted, match="40 tokens"):
        await _step(backend, _settings()).handle(event, DECIDE)

    assert backend.requests == [], "the model must not run when the prompt cannot fit"


async def test_the_generation_is_capped_at_the_tokens_left_in_the_budget() -> None:
    backend = FixedBackend('{"action": "answer", "text": "ok"}')
    event = _event(output_schema([], answer_option([])))
    event.envelope.budget.max_tokens = 1000
    event.envelope.budget.tokens_used = 900
    event.prompt.token_count = 40

    await _step(backend, _settings()).handle(event, DECIDE)

    assert backend.requests[0].max_tokens == 60, (
        "max_tokens must shrink to what is left after the prompt, below the step's 120"
    )


async def test_the_steps_max_tokens_param_is_used_when_the_budget_allows() -> None:
    backend = FixedBackend('{"action": "answer", "text": "ok"}')

    await _step(backend, _settings()).handle(_event(output_schema([], answer_option([]))), DECIDE)

    assert backend.requests[0].max_tokens == 120, "params.max_tokens must reach the backend"


async def test_malformed_model_text_is_an_invalid_output() -> None:
    event = _event(_tool_schema())

    with pytest.raises(ModelOutputInvalid, match="not JSON"):
        await _step(FixedBackend("not json"), _settings()).handle(event, DECIDE)


async def test_the_seed_depends_on_request_and_step() -> None:
    backend = FixedBackend('{"action": "answer", "text": "ok"}')
    step = _step(backend, _settings())
    schema = output_schema([], answer_option([]))
    first, later = _event(schema, steps_taken=5), _event(schema, steps_taken=8)
    later.envelope.request_id = first.envelope.request_id
    again = _event(schema, steps_taken=5)
    again.envelope.request_id = first.envelope.request_id

    for event in (first, later, again):
        await step.handle(event, DECIDE)

    seeds = [request.seed for request in backend.requests]
    assert seeds[0] == seeds[2], "a redelivered step must reuse its seed"
    assert seeds[0] != seeds[1], "another step of the request must get another seed"


# --- the scripted backend ----------------------------------------------------------------


async def test_the_scripted_backend_streams_its_text_word_by_word() -> None:
    request = GenerationRequest(
        messages=[ChatMessage(role="user", content="Where is my refund?")], max_tokens=50
    )
    deltas: list[str] = []

    async def collect(delta: str) -> None:
        deltas.append(delta)

    generation = await ScriptedBackend().generate(request, collect)

    assert "".join(deltas) == generation.text, "the deltas do not add up to the text"
    assert [delta.strip() for delta in deltas] == generation.text.split(), (
        f"expected one delta per word: {deltas}"
    )


async def test_the_scripted_backend_fills_a_pattern_enum_with_its_first_alternative() -> None:
    # How an OpenAPI string enum reaches the model: shared.tools.schemas makes it a pattern.
    ticket = {
        "type": "object",
        "properties": {
            "severity": {"type": "string", "pattern": "^(?:sev1|sev2|sev3)$"},
            "team": {"type": "string", "pattern": r"^(?:payments\-oncall|search\-oncall)$"},
            "group": {"type": "string", "pattern": "^(payments[-]oncall|search[-]oncall)$"},
            "plain": {"type": "string", "pattern": "^(sev1|sev2)$"},
            "ticket_ref": {"type": "string", "pattern": "^(INC-[0-9]+)$"},
        },
    }
    request = GenerationRequest(
        messages=[ChatMessage(role="user", content="ALERT service=payments")],
        max_tokens=50,
        json_schema=output_schema([tool_call_option("open_incident_ticket", ticket)], None),
    )

    generation = await ScriptedBackend().generate(request)

    arguments = json.loads(generation.text)["arguments"]
    assert arguments == {
        "severity": "sev1",
        "team": "payments-oncall",
        "group": "payments-oncall",
        "plain": "sev1",
        "ticket_ref": "x",
    }, (
        "a pattern of literal alternatives must yield its first literal (unescaped); a "
        f"pattern that is not one keeps the placeholder: {arguments}"
    )


# --- parse_output ------------------------------------------------------------------------


def test_parse_output_reads_a_tool_call() -> None:
    parsed = parse_output(
        '{"action": "call_tool", "tool": "lookup_order", "arguments": {"order_id": "ORD-5001"}}'
    )

    assert parsed.tool_calls == (
        ParsedToolCall(tool="lookup_order", arguments={"order_id": "ORD-5001"}),
    ), f"tool call misread: {parsed}"
    assert (parsed.text, tuple(parsed.sources)) == ("", ()), "a tool call has no answer"


def test_parse_output_reads_missing_arguments_as_an_empty_object() -> None:
    parsed = parse_output('{"action": "call_tool", "tool": "ping"}')

    assert parsed.tool_calls[0].arguments == {}, "missing arguments mean an empty object"


def test_parse_output_reads_an_answer_and_its_sources_as_text() -> None:
    parsed = parse_output('{"action": "answer", "text": "Done.", "sources": ["a#1", 2]}')

    assert (parsed.text, tuple(parsed.sources), tuple(parsed.tool_calls)) == (
        "Done.",
        ("a#1", "2"),
        (),
    ), f"answer misread: {parsed}"


def test_parse_output_accepts_an_answer_without_sources() -> None:
    assert tuple(parse_output('{"action": "answer", "text": "Hi"}').sources) == (), (
        "an answer without a sources field cites nothing"
    )


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("not json", "not JSON"),
        ('["answer"]', "not a JSON object"),
        ('{"action": "shout", "text": "HI"}', "unknown action"),
        ('{"text": "no action"}', "unknown action"),
        ('{"action": "call_tool", "arguments": {}}', "lacks a tool name"),
        ('{"action": "call_tool", "tool": "t", "arguments": [1]}', "argument object"),
        ('{"action": "answer", "sources": []}', "lacks text"),
        ('{"action": "answer", "text": "Hi", "sources": "a#1"}', "source list"),
    ],
)
def test_parse_output_rejects_malformed_output(text: str, why: str) -> None:
    with pytest.raises(MalformedOutput, match=why):
        parse_output(text)


# --- output_schema -----------------------------------------------------------------------


def test_a_single_option_is_the_schema_itself() -> None:
    option = answer_option([])

    assert output_schema([], option) == option, "one option must not be wrapped in oneOf"


def test_several_options_are_one_of_them_with_the_answer_last() -> None:
    tool = tool_call_option("lookup_invoice", INVOICE_ARGUMENTS)
    answer = answer_option(SOURCES)

    assert output_schema([tool], answer) == {"oneOf": [tool, answer]}, "options lost or reordered"


def test_no_answer_forces_a_tool_call() -> None:
    tool = tool_call_option("lookup_invoice", INVOICE_ARGUMENTS)

    schema = output_schema([tool], None)

    assert schema["properties"]["action"]["const"] == CALL_TOOL, f"answer offered: {schema}"


def test_a_schema_needs_at_least_one_option() -> None:
    with pytest.raises(ValueError, match="at least one option"):
        output_schema([], None)


def test_an_answer_with_sources_at_hand_must_cite_one_of_them() -> None:
    option = answer_option(SOURCES, max_chars=300)

    sources = option["properties"]["sources"]
    assert (sources["items"]["enum"], sources["minItems"], sources["maxItems"]) == (
        SOURCES,
        1,
        2,
    ), f"sources not restricted to the retrieved ones: {sources}"
    assert option["properties"]["text"]["maxLength"] == 300, "answer length not bounded"
    assert option["required"] == ["action", "text", "sources"], "sources must be required"


def test_an_answer_without_sources_has_no_sources_field() -> None:
    option = answer_option([])

    assert set(option["properties"]) == {"action", "text"}, f"unexpected fields: {option}"
    assert option["properties"]["action"]["const"] == ANSWER, "the action must be fixed"


def test_a_tool_call_option_fixes_the_tool_and_allows_nothing_else() -> None:
    option = tool_call_option("lookup_invoice", INVOICE_ARGUMENTS)

    assert option["properties"]["tool"] == {"const": "lookup_invoice"}, "the tool must be fixed"
    assert option["properties"]["arguments"] == INVOICE_ARGUMENTS, "argument schema lost"
    assert option["additionalProperties"] is False, "extra fields must be refused"
