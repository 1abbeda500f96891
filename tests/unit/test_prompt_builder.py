"""The prompt-builder: versioned templates, the model's output schema, and trimming to budget."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.prompt_builder.service import PromptStep
from services.prompt_builder.templates import TemplateStore, check_tools_exist
from shared.agent.slots import slots_of_pattern
from shared.config import ConfigFileError, repo_root
from shared.contracts import Chunk, StepEvent, Turn, UserRequest, Verdict
from shared.models import ChatMessage, GgufTokenizer
from shared.runtime import InputTooLarge, StepCall, StepMisconfigured
from shared.tools import ToolCatalog, load_tool_catalog
from tests.fixtures.tool_events import (
    eligible_check,
    exchange,
    ineligible_check,
    issued_refund,
    refund_event,
)

REFUND_DRAFT = StepCall(workflow="refund", step_id="draft", params={"template": "refund_agent"})
CHUNK_IDS = ["refund-policy#1", "refund-policy#2"]


@pytest.fixture(scope="module")
def tokenizer() -> GgufTokenizer:
    return GgufTokenizer()


@pytest.fixture(scope="module")
def catalog() -> ToolCatalog:
    return load_tool_catalog(repo_root() / "config")


@pytest.fixture(scope="module")
def step(catalog: ToolCatalog, tokenizer: GgufTokenizer) -> PromptStep:
    return PromptStep(TemplateStore(repo_root() / "config" / "prompts"), catalog, tokenizer)


def _template(name: str = "faq", version: int = 1, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "version": version,
        "output": "answer",
        "system": f"You answer questions ({name} v{version}).",
        **fields,
    }


def _write_template(directory: Path, template: dict[str, Any], *, path: str = "") -> Path:
    target = directory / (path or f"{template['name']}/v{template['version']}.yaml")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(template), encoding="utf-8")
    return target


def _refund_event() -> StepEvent:
    event = refund_event(steps_taken=2)
    event.envelope.workflow.step = "draft"
    event.request.text = "I was charged twice for INV-1001, please refund me."
    event.retrieval.chunks.extend(
        Chunk(source_id=source, document_id="refund-policy", text=f"Policy text {n}.", score=0.9)
        for n, source in enumerate(CHUNK_IDS)
    )
    return event


async def _schema(step: PromptStep, event: StepEvent) -> dict[str, Any]:
    await step.handle(event, REFUND_DRAFT)
    schema: dict[str, Any] = json.loads(event.prompt.output_schema_json)
    return schema


def _options(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The schema's options by tool name, the answer under "answer"."""
    options = schema.get("oneOf", [schema])
    by_name = {}
    for option in options:
        properties = option["properties"]
        by_name[properties.get("tool", properties["action"])["const"]] = option
    return by_name


def _argument_enum(option: dict[str, Any], argument: str) -> list[Any]:
    enum: list[Any] = option["properties"]["arguments"]["properties"][argument]["enum"]
    return enum


# --- template store ----------------------------------------------------------------------


def test_a_template_name_resolves_to_its_newest_version(tmp_path: Path) -> None:
    _write_template(tmp_path, _template(version=1))
    _write_template(tmp_path, _template(version=2))

    loaded = TemplateStore(tmp_path).get("faq")

    assert loaded.template.version == 2, "an unpinned reference must get the newest version"


def test_a_pinned_reference_resolves_to_that_version(tmp_path: Path) -> None:
    _write_template(tmp_path, _template(version=1))
    _write_template(tmp_path, _template(version=2))

    loaded = TemplateStore(tmp_path).get("faq@1")

    assert loaded.template.version == 1, "`name@1` must get version 1"
    assert loaded.version_id.startswith("1+"), f"version id lacks its hash: {loaded.version_id}"


def test_a_template_file_named_after_another_version_is_rejected(tmp_path: Path) -> None:
    path = _write_template(tmp_path, _template(version=1), path="faq/v2.yaml")

    with pytest.raises(ConfigFileError) as raised:
        TemplateStore(tmp_path)

    assert str(path) in str(raised.value), f"the error should name the file: {raised.value}"
    assert "faq/v1.yaml" in str(raised.value), f"the error should say the right name: {raised}"


def test_a_template_file_in_another_templates_folder_is_rejected(tmp_path: Path) -> None:
    path = _write_template(tmp_path, _template(name="faq"), path="help/v1.yaml")

    with pytest.raises(ConfigFileError) as raised:
        TemplateStore(tmp_path)

    assert str(path) in str(raised.value), f"the error should name the file: {raised.value}"


def test_an_invalid_template_field_is_named_in_the_error(tmp_path: Path) -> None:
    path = _write_template(tmp_path, _template(output="essay"))

    with pytest.raises(ConfigFileError) as raised:
        TemplateStore(tmp_path)

    assert str(path) in str(raised.value), f"the error should name the file: {raised.value}"
    assert "output" in str(raised.value), f"the error should name the field: {raised.value}"


async def test_an_unknown_template_is_a_misconfigured_step(step: PromptStep) -> None:
    call = StepCall(workflow="refund", step_id="draft", params={"template": "no_such_template"})

    with pytest.raises(StepMisconfigured, match="no_such_template"):
        await step.handle(_refund_event(), call)


async def test_an_unknown_template_version_is_a_misconfigured_step(step: PromptStep) -> None:
    call = StepCall(workflow="refund", step_id="draft", params={"template": "refund_agent@9"})

    with pytest.raises(StepMisconfigured, match="no version '9'"):
        await step.handle(_refund_event(), call)


async def test_a_step_without_template_param_is_misconfigured(step: PromptStep) -> None:
    call = StepCall(workflow="refund", step_id="draft")

    with pytest.raises(StepMisconfigured, match=r"params\.template"):
        await step.handle(_refund_event(), call)


# --- the refund agent's output schema ----------------------------------------------------


async def test_the_refund_agent_first_may_only_call_tools(step: PromptStep) -> None:
    options = _options(await _schema(step, _refund_event()))

    assert set(options) == {"lookup_invoice", "check_refund_policy"}, (
        f"before the policy check only lookups and the check may be offered: {set(options)}"
    )


async def test_offered_invoice_ids_are_the_extracted_entity(step: PromptStep) -> None:
    options = _options(await _schema(step, _refund_event()))

    for tool in ("lookup_invoice", "check_refund_policy"):
        assert _argument_enum(options[tool], "invoice_id") == ["INV-1001"], (
            f"{tool} must only take the invoice id the customer mentioned"
        )


async def test_a_passed_policy_check_offers_the_refund_of_the_refundable_amount(
    step: PromptStep,
) -> None:
    event = _refund_event()
    event.tool_exchanges.append(eligible_check("INV-1001", amount=49.99))

    options = _options(await _schema(step, event))

    assert "issue_refund" in options, f"a passed check must unlock the refund: {set(options)}"
    assert _argument_enum(options["issue_refund"], "amount") == [49.99], (
        "the refund amount must be the policy check's refundable amount"
    )
    assert "answer" not in options, "the answer must wait until the refund is issued"


async def test_a_failed_policy_check_offers_the_answer_and_no_refund(step: PromptStep) -> None:
    event = _refund_event()
    event.tool_exchanges.append(ineligible_check("INV-1001"))

    options = _options(await _schema(step, event))

    assert "issue_refund" not in options, "an ineligible invoice must not be refundable"
    assert "answer" in options, "with nothing left to do the agent must be able to answer"


async def test_after_the_refund_the_answer_cites_only_retrieved_chunks(step: PromptStep) -> None:
    event = _refund_event()
    event.tool_exchanges.extend(
        [
            eligible_check("INV-1001", amount=49.99),
            exchange(
                "issue_refund",
                {"invoice_id": "INV-1001", "amount": 49.99},
                {"payment_id": "PAY-1", "status": "issued"},
            ),
        ]
    )

    options = _options(await _schema(step, event))

    assert "answer" in options, f"after the refund the answer must be offered: {set(options)}"
    assert "issue_refund" not in options, "a refund already issued must not be offered again"
    sources = options["answer"]["properties"]["sources"]
    assert sources["items"]["enum"] == CHUNK_IDS, "answers may cite only retrieved chunk ids"
    assert sources["minItems"] == 1, "with sources at hand the answer must cite one"


async def test_an_answer_template_offers_only_the_answer(step: PromptStep) -> None:
    event = _refund_event()
    call = StepCall(
        workflow="product_question", step_id="draft", params={"template": "product_answer"}
    )

    await step.handle(event, call)

    schema = json.loads(event.prompt.output_schema_json)
    assert schema["properties"]["action"]["const"] == "answer", f"not an answer schema: {schema}"


async def test_the_prompt_records_the_template_version_it_used(step: PromptStep) -> None:
    event = _refund_event()

    await step.handle(event, REFUND_DRAFT)

    assert event.prompt.template == "refund_agent", "the prompt must name its template"
    assert event.prompt.template_version.startswith("3+"), (
        f"the prompt must record version and content hash: {event.prompt.template_version}"
    )


async def test_the_customers_preferences_reach_the_system_prompt(step: PromptStep) -> None:
    event = _refund_event()
    event.intent.preferences.add(kind="contact_channel", value="email", remembered=True)

    await step.handle(event, REFUND_DRAFT)

    system = event.prompt.messages[0].content
    assert "preferences (honour them): contact_channel=email" in system, system


# --- assembly and trimming ---------------------------------------------------------------


def _store_with(tmp_path: Path, **fields: Any) -> TemplateStore:
    _write_template(tmp_path, _template(**fields))
    return TemplateStore(tmp_path)


def _event_with_history(turns: int) -> StepEvent:
    event = _refund_event()
    event.request.history.extend(
        Turn(
            role="user" if n % 2 == 0 else "assistant",
            content=f"Turn {n}: " + "about my earlier order and its delivery " * 4,
        )
        for n in range(turns)
    )
    return event


async def test_trimming_drops_the_oldest_history_turns_first(
    tmp_path: Path, catalog: ToolCatalog, tokenizer: GgufTokenizer
) -> None:
    step = PromptStep(_store_with(tmp_path, max_prompt_tokens=300), catalog, tokenizer)
    event = _event_with_history(10)

    await step.handle(event, StepCall(workflow="w", step_id="s", params={"template": "faq"}))

    prompt = event.prompt
    contents = [m.content for m in prompt.messages]
    assert 0 < prompt.dropped_turns < 10, f"some but not all turns should go: {prompt}"
    kept = [f"Turn {n}:" for n in range(prompt.dropped_turns, 10)]
    assert [c.split(" about")[0] for c in contents if c.startswith("Turn ")] == kept, (
        "only the oldest turns may be dropped"
    )
    assert all(source in contents[0] for source in CHUNK_IDS), (
        "policy chunks must outlive history turns"
    )
    assert prompt.token_count <= 300, f"the prompt exceeds its limit: {prompt.token_count}"


async def test_a_prompt_that_fits_keeps_all_history(
    tmp_path: Path, catalog: ToolCatalog, tokenizer: GgufTokenizer
) -> None:
    step = PromptStep(_store_with(tmp_path, max_prompt_tokens=1500), catalog, tokenizer)
    event = _event_with_history(4)

    await step.handle(event, StepCall(workflow="w", step_id="s", params={"template": "faq"}))

    assert event.prompt.dropped_turns == 0, "nothing may be dropped from a prompt that fits"
    assert sum(m.content.startswith("Turn ") for m in event.prompt.messages) == 4, "turns lost"


async def test_a_request_too_long_for_the_smallest_prompt_is_too_large(
    tmp_path: Path, catalog: ToolCatalog, tokenizer: GgufTokenizer
) -> None:
    step = PromptStep(_store_with(tmp_path, max_prompt_tokens=64), catalog, tokenizer)
    event = _event_with_history(2)
    event.request.text = "Please refund invoice INV-1001 " * 40

    with pytest.raises(InputTooLarge, match="64"):
        await step.handle(event, StepCall(workflow="w", step_id="s", params={"template": "faq"}))


async def test_the_token_count_is_the_models_count_of_the_messages(
    step: PromptStep, tokenizer: GgufTokenizer
) -> None:
    event = _event_with_history(2)
    event.tool_exchanges.append(eligible_check("INV-1001"))

    await step.handle(event, REFUND_DRAFT)

    messages = [ChatMessage(role=m.role, content=m.content) for m in event.prompt.messages]
    assert event.prompt.token_count == tokenizer.count_chat(messages), (
        "token_count must equal the GGUF tokenizer's count of the rendered chat"
    )


async def test_tool_exchanges_become_call_and_result_turns(step: PromptStep) -> None:
    event = _refund_event()
    event.tool_exchanges.append(eligible_check("INV-1001", amount=49.99))

    await step.handle(event, REFUND_DRAFT)

    call, result = event.prompt.messages[-2:]
    assert (call.role, json.loads(call.content)) == (
        "assistant",
        {
            "action": "call_tool",
            "tool": "check_refund_policy",
            "arguments": {"invoice_id": "INV-1001"},
        },
    ), f"the call must be replayed as the model's own JSON: {call}"
    assert result.role == "user", "the tool result is given back as a user turn"
    assert result.content.startswith("Result of check_refund_policy: "), result.content


# --- answer slots and template answers -----------------------------------------------------


def test_a_fallback_text_with_a_broken_brace_names_file_and_field(tmp_path: Path) -> None:
    path = _write_template(tmp_path, _template(answer={"fallbacks": [{"text": "Order {id"}]}))

    with pytest.raises(ConfigFileError, match=rf"{path}: answer\.fallbacks\.0\.text"):
        TemplateStore(tmp_path)


def test_a_fallback_naming_an_expression_instead_of_a_slot_is_refused(tmp_path: Path) -> None:
    path = _write_template(tmp_path, _template(answer={"fallbacks": [{"text": "{a[0]}"}]}))

    with pytest.raises(ConfigFileError, match=rf"{path}: answer\.fallbacks\.0\.text.*slot"):
        TemplateStore(tmp_path)


def test_a_fallback_conditioned_on_an_unknown_tool_names_file_and_field(
    tmp_path: Path, catalog: ToolCatalog
) -> None:
    fallback = {"when": {"lookup_parcel.status": "lost"}, "text": "Sorry."}
    _write_template(tmp_path, _template(answer={"fallbacks": [fallback]}))

    with pytest.raises(ConfigFileError, match=r"faq/v1\.yaml: answer\.fallbacks\.0.*lookup_parcel"):
        check_tools_exist(TemplateStore(tmp_path), catalog.tools, tmp_path)


def test_a_required_slot_conditioned_on_an_unknown_tool_names_file_and_field(
    tmp_path: Path, catalog: ToolCatalog
) -> None:
    required = {"slot": "status", "when": {"lookup_parcel.lost": True}}
    _write_template(tmp_path, _template(answer={"slots": True, "must_state": [required]}))

    with pytest.raises(
        ConfigFileError, match=r"faq/v1\.yaml: answer\.must_state\.0.*lookup_parcel"
    ):
        check_tools_exist(TemplateStore(tmp_path), catalog.tools, tmp_path)


async def test_a_slotted_template_offers_slots_and_its_fitting_fallback(step: PromptStep) -> None:
    event = _refund_event()
    event.tool_exchanges.extend([eligible_check(), issued_refund()])

    schema = await _schema(step, event)

    pattern = _options(schema)["answer"]["properties"]["text"]["pattern"]
    assert slots_of_pattern(pattern), f"the answer text is not slotted: {pattern}"
    assert event.prompt.answer_slots["issue_refund.amount"] == "49.99", event.prompt.answer_slots
    assert event.prompt.fallback_answer.startswith("I have refunded 49.99 USD"), event.prompt
    assert list(event.prompt.fallback_sources) == CHUNK_IDS


async def test_a_regenerated_prompt_says_why_the_last_answer_was_refused(step: PromptStep) -> None:
    event = _refund_event()
    event.output_guard.stage = "output"
    event.output_guard.verdict = Verdict.VERDICT_REGENERATE
    event.output_guard.findings.append("the answer states a date that is in no tool result")

    await step.handle(event, REFUND_DRAFT)

    system = event.prompt.messages[0].content
    assert "previous answer was refused: the answer states a date" in system, system


async def test_a_regenerated_prompt_keeps_a_flood_of_findings_brief(step: PromptStep) -> None:
    event = _refund_event()
    event.output_guard.stage = "output"
    event.output_guard.verdict = Verdict.VERDICT_REGENERATE
    invented = "; ".join(
        f"the answer states an amount ({n}) that is in no tool result" for n in range(200)
    )
    event.output_guard.findings.extend([invented, *[f"finding {n}" for n in range(50)]])

    await step.handle(event, REFUND_DRAFT)

    system = event.prompt.messages[0].content
    assert len(system) < 3000, f"findings crowd the prompt: {len(system)} characters"
    assert "and 47 more" in system, system


# --- choice templates (the router's second stage) ----------------------------------------

ROUTE_CHOICE = StepCall(
    workflow="route_by_model",
    step_id="choose",
    params={
        "template": "route_choice",
        "max_delegations": 1,
        "delegates": {"refund": "money back", "escalation": "a person"},
    },
)


async def test_a_choice_template_offers_only_the_delegates_as_an_enum(step: PromptStep) -> None:
    event = StepEvent(request=UserRequest(text="hm, not sure what I want"))

    await step.handle(event, ROUTE_CHOICE)

    schema = json.loads(event.prompt.output_schema_json)
    assert "oneOf" not in schema, f"a choice offers no answer and no tool: {schema}"
    assert schema["properties"]["agent"] == {"enum": ["refund", "escalation"]}, schema
    system = event.prompt.messages[0].content
    assert "- escalation: a person" in system, "the routes' descriptions must be in the prompt"


async def test_a_choice_template_on_a_step_without_delegates_is_misconfigured(
    step: PromptStep,
) -> None:
    call = StepCall(workflow="triage", step_id="choose", params={"template": "route_choice"})

    with pytest.raises(StepMisconfigured, match="no `delegates` to choose among"):
        await step.handle(StepEvent(request=UserRequest(text="hello")), call)
