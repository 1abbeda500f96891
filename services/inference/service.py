"""The inference step: run the built prompt on the configured model, under its output schema.

The seed is derived from the request and step, so a redelivered event reproduces the
same output and therefore the same tool calls (and idempotency keys).
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Mapping

from opentelemetry.trace import SpanKind

from services.inference.answer_text import AnswerTextDecoder
from services.inference.backends import Generation, GenerationRequest, ModelBackend
from services.inference.backends.base import BackendUnavailable, DeltaSink
from services.inference.backends.scripted import ScriptedBackend
from services.inference.response_cache import (
    CacheKey,
    CachePolicy,
    ExactResponseCache,
    RequestShape,
    SemanticResponseCache,
    cacheable,
    last_user_text,
)
from services.inference.routing import (
    ModelCatalog,
    ModelRouter,
    ModelSpec,
    RequestRejected,
    RouteChoice,
    Routed,
    load_model_catalog,
    single_model_catalog,
)
from services.inference.settings import InferenceSettings
from services.inference.tenant_budget import TenantDailyBudget, load_budgets
from shared.agent import (
    MalformedOutput,
    SlotRenderer,
    answer_max_chars,
    parse_output,
    render_slots,
    whole_sentences,
)
from shared.config import ConduitSettings
from shared.contracts import ModelOutput, StepEvent, ToolCall
from shared.embeddings import default_query_embedder
from shared.models.chat import ChatMessage
from shared.runtime import (
    BudgetExhausted,
    DependencyUnavailable,
    InputTooLarge,
    InvalidArguments,
    ModelOutputInvalid,
    StepCall,
    StepMisconfigured,
    StepService,
)
from shared.runtime.stream import DraftWriter
from shared.telemetry import run_attributes, tracer
from shared.telemetry.metrics import COST, TOKENS
from shared.telemetry.versions import MODEL


def make_backend(spec: ModelSpec, settings: InferenceSettings, name: str) -> ModelBackend:
    """The backend a catalog entry describes (remote ones connect on first use)."""
    if spec.backend == "scripted":
        return ScriptedBackend()
    if spec.backend == "triton":
        from services.inference.backends.triton import TritonBackend  # noqa: PLC0415

        return TritonBackend(str(spec.url), str(spec.model), timeout_s=spec.timeout_s, name=name)
    if spec.backend == "openai":
        from services.inference.backends.openai_compat import (  # noqa: PLC0415
            OpenAICompatibleBackend,
        )

        api_key = os.environ.get(spec.api_key_env) if spec.api_key_env else None
        return OpenAICompatibleBackend(
            str(spec.url),
            str(spec.model),
            api_key=api_key,
            timeout_s=spec.timeout_s,
            name=name,
            schema_format=spec.schema_format,
        )
    from services.inference.backends.llama_cpp import LlamaCppBackend  # noqa: PLC0415

    return LlamaCppBackend(
        model_path=settings.model_path, n_ctx=settings.n_ctx, n_threads=settings.n_threads
    )


def model_catalog(settings: InferenceSettings) -> ModelCatalog:
    """The configured catalog, or a single model from `CONDUIT_INFERENCE_BACKEND`."""
    if settings.models_file is not None:
        return load_model_catalog(settings.models_file)
    spec = ModelSpec(
        backend=settings.backend,
        context_tokens=settings.n_ctx,
        price_per_1k_input_usd=settings.price_per_1k_input_usd,
        price_per_1k_output_usd=settings.price_per_1k_output_usd,
    )
    return single_model_catalog(settings.backend, spec)


def make_router(settings: InferenceSettings) -> ModelRouter:
    catalog = model_catalog(settings)
    backends = {name: make_backend(spec, settings, name) for name, spec in catalog.models.items()}
    return ModelRouter(catalog, backends)


def generation_request(
    event: StepEvent, call: StepCall, settings: InferenceSettings, *, max_tokens: int
) -> GenerationRequest:
    """What the step asks the model: the built prompt, its schema and a reproducible seed."""
    envelope = event.envelope
    seed = zlib.crc32(f"{envelope.request_id}:{envelope.workflow.steps_taken}".encode())
    return GenerationRequest(
        messages=[ChatMessage(role=m.role, content=m.content) for m in event.prompt.messages],
        max_tokens=max_tokens,
        temperature=float(call.params.get("temperature", settings.temperature)),
        seed=seed,
        json_schema=json.loads(event.prompt.output_schema_json or "null"),
    )


class InferenceStep:
    """Example: `await InferenceStep(make_router(settings), settings).handle(event, call)`.

    Step params: `max_tokens`, `temperature`, and `stream: true` to write the answer's text
    to the stream topic as it is generated.
    """

    def __init__(
        self,
        router: ModelRouter,
        settings: InferenceSettings,
        *,
        exact_cache: ExactResponseCache | None = None,
        semantic_cache: SemanticResponseCache | None = None,
        budget: TenantDailyBudget | None = None,
    ) -> None:
        self._router = router
        self._settings = settings
        self._exact_cache = exact_cache
        self._semantic_cache = semantic_cache
        self._budget = budget

    async def handle(self, event: StepEvent, call: StepCall) -> None:
        envelope = event.envelope
        max_tokens = self._token_allowance(
            event, int(call.params.get("max_tokens", self._settings.max_tokens))
        )
        request = generation_request(event, call, self._settings, max_tokens=max_tokens)
        schema = request.json_schema
        choice = self._choice(event, call)
        with tracer().start_as_current_span(
            f"chat {choice.route.model}",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": choice.route.model,
                "gen_ai.request.max_tokens": max_tokens,
                "gen_ai.request.temperature": request.temperature,
                "conduit.route": choice.reason,
                **run_attributes(event.envelope.versions),
            },
        ) as span:
            tenant = envelope.tenant_id
            if self._budget is not None:
                await self._budget.check(tenant)
            policy = CachePolicy.from_step_params(call.params)
            use_cache = cacheable(policy, schema)
            cached = await self._cached(policy, tenant, choice, request) if use_cache else None
            if cached is not None:
                routed = Routed(cached, choice.route.model, self._spec(choice), ())
            else:
                routed = await self._generate(choice, request, event, call)
                if use_cache:
                    await self._remember(policy, tenant, choice, request, routed.generation)
            generation = routed.generation
            # A cached answer costs nothing and spends no tokens: nothing was generated.
            spent = (0, 0) if cached else (generation.input_tokens, generation.output_tokens)
            cost = routed.spec.cost_usd(*spent)
            if self._budget is not None:
                await self._budget.record(tenant, sum(spent), cost)
            span.set_attribute("conduit.cache", "hit" if cached else policy.mode)
            usage = {"model": generation.model, "tenant": tenant}
            TOKENS.add(spent[0], {**usage, "direction": "input"})
            TOKENS.add(spent[1], {**usage, "direction": "output"})
            COST.add(cost, usage)
            span.set_attributes(
                {
                    "gen_ai.system": routed.spec.backend,
                    "gen_ai.response.model": generation.model,
                    "gen_ai.response.finish_reasons": [generation.finish_reason],
                    "gen_ai.usage.input_tokens": generation.input_tokens,
                    "gen_ai.usage.output_tokens": generation.output_tokens,
                    "conduit.cost_usd": cost,
                    "conduit.models_tried": list(routed.tried),
                    MODEL: routed.model,
                }
            )
            for reason in routed.tried:
                span.add_event("model skipped", {"reason": reason})
        output = ModelOutput(
            model=generation.model,
            finish_reason=generation.finish_reason,
            input_tokens=spent[0],
            output_tokens=spent[1],
            cost_usd=cost,
            route=f"{choice.reason} -> {routed.model}",
            models_tried=routed.tried,
            cached=cached is not None,
        )
        if schema is None:
            output.text = generation.text
        else:
            self._fill_structured(
                output,
                generation,
                envelope.workflow.steps_taken,
                event.prompt.answer_slots,
                max_chars=answer_max_chars(schema),
            )
        event.model_output.CopyFrom(output)
        if output.delegate_to:
            event.delegations.append(output.delegate_to)
        envelope.versions.model = routed.model
        envelope.budget.tokens_used += sum(spent)
        envelope.budget.cost_used_usd += cost

    def _choice(self, event: StepEvent, call: StepCall) -> RouteChoice:
        """The step's own model (`params.model`, an agent's) or the catalog's route."""
        pinned = call.params.get("model")
        if pinned is None:
            return self._router.catalog.choose(
                intent=event.intent.intent,
                step=call.step_id,
                prompt_tokens=event.prompt.token_count,
            )
        try:
            return self._router.catalog.pinned(str(pinned))
        except KeyError as exc:
            raise StepMisconfigured(f"{call.workflow}.{call.step_id}: {exc.args[0]}") from exc

    def _spec(self, choice: RouteChoice) -> ModelSpec:
        return self._router.catalog.models[choice.route.model]

    async def _cached(
        self, policy: CachePolicy, tenant: str, choice: RouteChoice, request: GenerationRequest
    ) -> Generation | None:
        model = choice.route.model
        if policy.mode == "exact" and self._exact_cache is not None:
            return await self._exact_cache.get(CacheKey.for_request(tenant, model, request))
        text = last_user_text(request.messages)
        if policy.mode == "semantic" and self._semantic_cache is not None and text:
            shape = RequestShape.for_request(model, request)
            return await self._semantic_cache.get(tenant, text, shape, threshold=policy.threshold)
        return None

    async def _remember(
        self,
        policy: CachePolicy,
        tenant: str,
        choice: RouteChoice,
        request: GenerationRequest,
        generation: Generation,
    ) -> None:
        model = choice.route.model
        if policy.mode == "exact" and self._exact_cache is not None:
            key = CacheKey.for_request(tenant, model, request)
            await self._exact_cache.put(key, generation, ttl_s=policy.ttl_s)
        text = last_user_text(request.messages)
        if policy.mode == "semantic" and self._semantic_cache is not None and text:
            shape = RequestShape.for_request(model, request)
            await self._semantic_cache.put(tenant, text, shape, generation, ttl_s=policy.ttl_s)

    async def _generate(
        self, choice: RouteChoice, request: GenerationRequest, event: StepEvent, call: StepCall
    ) -> Routed:
        stream = call.stream if call.params.get("stream") else None
        context = _draft_context(event) if stream is not None else None
        writers: list[DraftWriter] = []

        def sink_for(model: str) -> DeltaSink | None:
            if stream is None or context is None:
                return None
            writer = stream.generation(model, context=context)
            writers.append(writer)
            decoder = AnswerTextDecoder() if request.json_schema is not None else None
            renderer = SlotRenderer(event.prompt.answer_slots)

            async def write(delta: str) -> None:
                await writer.write(renderer.feed(decoder.feed(delta) if decoder else delta))

            return write

        try:
            routed = await self._router.generate(
                choice, request, sink_for, prompt_tokens=event.prompt.token_count
            )
            if writers:
                await writers[-1].finish(routed.generation.finish_reason)
            return routed
        except RequestRejected as exc:
            if "context" in str(exc):
                raise InputTooLarge(str(exc)) from exc
            raise InvalidArguments(str(exc)) from exc
        except BackendUnavailable as exc:
            raise DependencyUnavailable(str(exc)) from exc

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
    def _fill_structured(
        output: ModelOutput,
        generation: Generation,
        step_number: int,
        slots: Mapping[str, str],
        *,
        max_chars: int | None,
    ) -> None:
        try:
            parsed = parse_output(generation.text)
        except MalformedOutput as exc:
            if generation.finish_reason != "length":
                raise ModelOutputInvalid(str(exc)) from exc
            # Cut by the token limit: the text so far, for the output guardrail to refuse
            # as incomplete (and have written again) rather than a failed request.
            output.text = render_slots(AnswerTextDecoder().feed(generation.text), slots)
            return
        text = parsed.text
        if max_chars is not None and len(text) >= max_chars:
            # Stopped by the answer's length limit, not by the model: keep what it finished.
            text = whole_sentences(text)
        output.text = render_slots(text, slots)
        output.sources.extend(parsed.sources)
        output.delegate_to = parsed.delegate_to
        for index, call in enumerate(parsed.tool_calls):
            output.tool_calls.append(
                ToolCall(
                    call_id=f"call-{step_number}-{index}",
                    tool=call.tool,
                    arguments_json=json.dumps(call.arguments, sort_keys=True),
                )
            )


def _draft_context(event: StepEvent) -> StepEvent:
    """What the output guardrail checks the drafts against: the request without its prompt
    text, which the checks do not read."""
    context = StepEvent()
    context.CopyFrom(event)
    del context.prompt.messages[:]
    return context


def build(settings: ConduitSettings, inference: InferenceSettings | None = None) -> StepService:
    inference_settings = inference or InferenceSettings()
    router = make_router(inference_settings)
    data_dir = settings.data_dir / "inference"
    default, limits = load_budgets(
        inference_settings.budgets_file or settings.config_dir / "budgets.yaml"
    )
    step = InferenceStep(
        router,
        inference_settings,
        exact_cache=ExactResponseCache(
            data_dir / "response-cache.sqlite3",
            ttl_s=inference_settings.cache_ttl_s,
            max_entries=inference_settings.cache_max_entries,
        ),
        semantic_cache=SemanticResponseCache(
            default_query_embedder(),
            threshold=inference_settings.semantic_cache_threshold,
            ttl_s=inference_settings.cache_ttl_s,
            max_entries_per_tenant=inference_settings.cache_max_entries,
        ),
        budget=TenantDailyBudget(
            data_dir / "tenant-budgets.sqlite3", limits=limits, default=default
        ),
    )
    return StepService(name="inference", handle=step.handle, warm_up=router.warm_up)
