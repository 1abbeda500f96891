"""The inference step: run the built prompt on the configured model, under its output schema.

The seed is derived from the request and step, so a redelivered event reproduces the
same output and therefore the same tool calls (and idempotency keys).
"""

from __future__ import annotations

import json
import zlib

from opentelemetry.trace import SpanKind

from services.inference.backends import GenerationRequest, LlamaCppBackend, ModelBackend
from services.inference.backends.scripted import ScriptedBackend
from services.inference.settings import InferenceSettings
from shared.agent import MalformedOutput, parse_output
from shared.config import ConduitSettings
from shared.contracts import ModelOutput, StepEvent, ToolCall
from shared.models.chat import ChatMessage
from shared.runtime import BudgetExhausted, ModelOutputInvalid, StepCall, StepService
from shared.telemetry import tracer
from shared.telemetry.metrics import COST, TOKENS


def make_backend(settings: InferenceSettings) -> ModelBackend:
    if settings.backend == "scripted":
        return ScriptedBackend()
    return LlamaCppBackend(
        model_path=settings.model_path, n_ctx=settings.n_ctx, n_threads=settings.n_threads
    )


class InferenceStep:
    """Example: `await InferenceStep(ScriptedBackend(), settings).handle(event, call)`."""

    def __init__(self, backend: ModelBackend, settings: InferenceSettings) -> None:
        self._backend = backend
        self._settings = settings

    async def handle(self, event: StepEvent, call: StepCall) -> None:
        envelope = event.envelope
        max_tokens = self._token_allowance(
            event, int(call.params.get("max_tokens", self._settings.max_tokens))
        )
        schema = json.loads(event.prompt.output_schema_json or "null")
        seed = zlib.crc32(f"{envelope.request_id}:{envelope.workflow.steps_taken}".encode())
        request = GenerationRequest(
            messages=[ChatMessage(role=m.role, content=m.content) for m in event.prompt.messages],
            max_tokens=max_tokens,
            temperature=float(call.params.get("temperature", self._settings.temperature)),
            seed=seed,
            json_schema=schema,
        )
        with tracer().start_as_current_span(
            f"chat {self._backend.name}",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.system": self._settings.backend,
                "gen_ai.request.model": self._backend.name,
                "gen_ai.request.max_tokens": max_tokens,
                "gen_ai.request.temperature": request.temperature,
                "conduit.prompt.template": event.prompt.template,
                "conduit.prompt.version": event.prompt.template_version,
            },
        ) as span:
            generation = await self._backend.generate(request)
            cost = (
                generation.input_tokens * self._settings.price_per_1k_input_usd
                + generation.output_tokens * self._settings.price_per_1k_output_usd
            ) / 1000
            tenant = envelope.tenant_id
            usage = {"model": generation.model, "tenant": tenant}
            TOKENS.add(generation.input_tokens, {**usage, "direction": "input"})
            TOKENS.add(generation.output_tokens, {**usage, "direction": "output"})
            COST.add(cost, usage)
            span.set_attributes(
                {
                    "gen_ai.response.model": generation.model,
                    "gen_ai.response.finish_reasons": [generation.finish_reason],
                    "gen_ai.usage.input_tokens": generation.input_tokens,
                    "gen_ai.usage.output_tokens": generation.output_tokens,
                    "conduit.cost_usd": cost,
                }
            )
        output = ModelOutput(
            model=generation.model,
            finish_reason=generation.finish_reason,
            input_tokens=generation.input_tokens,
            output_tokens=generation.output_tokens,
            cost_usd=cost,
        )
        if schema is None:
            output.text = generation.text
        else:
            self._fill_structured(output, generation.text, envelope.workflow.steps_taken)
        event.model_output.CopyFrom(output)
        envelope.budget.tokens_used += generation.input_tokens + generation.output_tokens
        envelope.budget.cost_used_usd += cost

    def _token_allowance(self, event: StepEvent, wanted: int) -> int:
        budget = event.envelope.budget
        if not budget.max_tokens:
            return wanted
        left = budget.max_tokens - budget.tokens_used - event.prompt.token_count
        if left <= 0:
            raise BudgetExhausted(
                f"prompt of {event.prompt.token_count} tokens does not fit the "
                f"{budget.max_tokens - budget.tokens_used} tokens left in the budget"
            )
        return min(wanted, left)

    @staticmethod
    def _fill_structured(output: ModelOutput, text: str, step_number: int) -> None:
        try:
            parsed = parse_output(text)
        except MalformedOutput as exc:
            raise ModelOutputInvalid(str(exc)) from exc
        output.text = parsed.text
        output.sources.extend(parsed.sources)
        for index, call in enumerate(parsed.tool_calls):
            output.tool_calls.append(
                ToolCall(
                    call_id=f"call-{step_number}-{index}",
                    tool=call.tool,
                    arguments_json=json.dumps(call.arguments, sort_keys=True),
                )
            )


def build(settings: ConduitSettings) -> StepService:
    inference_settings = InferenceSettings()
    backend = make_backend(inference_settings)
    step = InferenceStep(backend, inference_settings)
    return StepService(name="inference", handle=step.handle, warm_up=backend.warm_up)
