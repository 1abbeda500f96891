"""The prompt step: pick the template version, assemble the chat, fit it to the token
budget with the model's own tokenizer, and attach the schema the model must follow."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from services.prompt_builder.assembly import PromptParts, fit
from services.prompt_builder.fallbacks import fallback_answer, request_results
from services.prompt_builder.templates import LoadedTemplate, TemplateStore, check_tools_exist
from shared.agent import (
    answer_option,
    answer_slots,
    delegate_option,
    output_schema,
    tool_call_option,
)
from shared.config import ConduitSettings
from shared.contracts import PromptMessage, PromptResult, StepEvent
from shared.models.local_gguf import GgufTokenizer
from shared.runtime import StepCall, StepMisconfigured, StepService
from shared.tools import ToolCatalog, load_tool_catalog, offerable_tools


class PromptStep:
    """Example: `await PromptStep(store, catalog, tokenizer).handle(event, call)` fills
    `event.prompt` from the template named by `call.params["template"]`."""

    def __init__(
        self, templates: TemplateStore, catalog: ToolCatalog, tokenizer: GgufTokenizer
    ) -> None:
        self._templates = templates
        self._catalog = catalog
        self._tokenizer = tokenizer
        self._facts = catalog.stateable_facts()

    async def handle(self, event: StepEvent, call: StepCall) -> None:
        loaded = self._template(call)
        template = loaded.template
        delegates = _open_delegates(call, event)
        slots = answer_slots(event.tool_exchanges, self._facts)
        schema = self._schema(loaded, event, list(delegates), list(slots))
        parts = PromptParts.from_event(template, event, delegates, slots=slots)
        messages, tokens, kept = await asyncio.to_thread(
            fit, parts, self._tokenizer.count_chat, template.max_prompt_tokens
        )
        event.prompt.CopyFrom(
            PromptResult(
                template=template.name,
                template_version=loaded.version_id,
                messages=[PromptMessage(role=m.role, content=m.content) for m in messages],
                token_count=tokens,
                output_schema_json=json.dumps(schema),
                dropped_turns=len(parts.history) - len(kept.history),
                template_label=template.label,
                answer_slots=slots,
                must_state=template.answer.must_state_now(
                    slots, request_results(event.tool_exchanges)
                ),
            )
        )
        fallback = fallback_answer(template.answer, event.tool_exchanges, event.retrieval, slots)
        if fallback is not None:
            event.prompt.fallback_answer = fallback.text
            event.prompt.fallback_sources.extend(fallback.sources)
        versions = event.envelope.versions
        versions.prompt_template = template.name
        versions.prompt_version = loaded.version_id
        versions.prompt_label = template.label

    def _template(self, call: StepCall) -> LoadedTemplate:
        reference = call.params.get("template")
        if not isinstance(reference, str):
            raise StepMisconfigured(f"{call.workflow}.{call.step_id}: params.template is required")
        try:
            return self._templates.get(reference)
        except KeyError as exc:
            raise StepMisconfigured(f"{call.workflow}.{call.step_id}: {exc.args[0]}") from exc

    def _schema(
        self, loaded: LoadedTemplate, event: StepEvent, delegates: list[str], slots: list[str]
    ) -> dict[str, Any]:
        template = loaded.template
        sources = [c.source_id for c in event.retrieval.chunks]
        answer = answer_option(
            sources,
            max_chars=template.max_answer_chars,
            slots=slots if template.answer.slots else None,
        )
        handovers = [delegate_option(delegates)] if delegates else []
        if template.output == "choice":
            if not handovers:
                raise StepMisconfigured(
                    f"template {template.name!r} asks for a choice, but the step offers no "
                    "`delegates` to choose among"
                )
            return output_schema(handovers, None)
        if template.output == "answer":
            return output_schema(handovers, answer)
        offered = offerable_tools(self._catalog, template.tools, event)
        options = [tool_call_option(o.spec.name, o.json_schema()) for o in offered]
        pending = {o.spec.name for o in offered} & set(template.answer_when_done)
        may_answer = not pending
        return output_schema([*options, *handovers], answer if may_answer else None)


def _open_delegates(call: StepCall, event: StepEvent) -> dict[str, str]:
    """The agents (name: description) the model may hand the request to now: those the step
    declares, while the request has handovers left, except agents it has already been to;
    none when the request's confident intent is one the step keeps (`keep_when_intent`: a
    supervisor chose this agent by it)."""
    declared = call.params.get("delegates") or {}
    if not isinstance(declared, dict):
        raise StepMisconfigured(f"{call.workflow}.{call.step_id}: params.delegates is a mapping")
    if len(event.delegations) >= int(call.params.get("max_delegations", 0)):
        return {}
    kept = call.params.get("keep_when_intent") or []
    if not event.intent.fallback and event.intent.intent in kept:
        return {}
    visited = set(event.delegations)
    return {str(name): str(about) for name, about in declared.items() if name not in visited}


def build(settings: ConduitSettings) -> StepService:
    templates = TemplateStore(settings.config_dir / "prompts")
    catalog = load_tool_catalog(settings.config_dir)
    check_tools_exist(templates, catalog.tools, settings.config_dir / "prompts")
    tokenizer = GgufTokenizer()
    step = PromptStep(templates, catalog, tokenizer)
    return StepService(name="prompt-builder", handle=step.handle)
