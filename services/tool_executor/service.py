"""The tool-executor: runs the step's tool calls, gated by the catalog, exactly once each."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from opentelemetry.trace import SpanKind

from services.tool_executor.approvals import approval_request, decision_of, refusal
from services.tool_executor.business import (
    REFUND_POLICY_FILE,
    JsonObject,
    RefundPolicy,
    ToolFailure,
)
from services.tool_executor.calls import CheckedCall, bind_fixed_call, check_call, step_params
from services.tool_executor.execution import CallRunner, CallScope, Claimed
from services.tool_executor.handlers import resolve_handlers
from services.tool_executor.http_tools import HttpTools
from services.tool_executor.ledger import Outcome
from services.tool_executor.mcp_tools import McpTools
from services.tool_executor.settings import ToolExecutorSettings, ledger_path, vault_path
from shared.config import ConduitSettings, load_yaml_model
from shared.contracts import StepEvent, ToolCall, ToolError, ToolExchange
from shared.runtime import StepCall, StepService, ToolNotAllowed
from shared.runtime.approvals import AwaitingApproval
from shared.runtime.audit import AUTHORIZATION, TOOL_CALL
from shared.telemetry import tracer
from shared.telemetry.metrics import TOOL_CALLS
from shared.tools import (
    TOOLS_FILE,
    ToolCatalog,
    ToolSpec,
    load_tool_catalog,
    requirement_failures,
    unbound_arguments,
)
from shared.tools.mcp import MCP_TOOLS_FILE, ListedTool, load_mcp_listing, load_mcp_servers

SERVICE_NAME = "tool-executor"
DEMO_SEED_FILE = "demo/business.sql"
PRECONDITION_FAILED = "PRECONDITION_FAILED"

log = logging.getLogger(__name__)
T = TypeVar("T")


def idempotency_key(event: StepEvent, step: StepCall, call_id: str) -> str:
    """One key per request, step execution and call: a redelivery reuses it, a new round not."""
    request = event.envelope.request_id
    steps_taken = event.envelope.workflow.steps_taken
    return f"{request}:{step.workflow}.{step.step_id}@{steps_taken}:{call_id}"


class ToolExecutor:
    """Example: `await ToolExecutor(catalog=..., open_runner=...).handle(event, step)`.

    Every call of the step is checked (tool, role, arguments) before any runs; then they
    run in order until one fails, each gated by its requirements and bound values.
    """

    def __init__(
        self,
        *,
        catalog: ToolCatalog,
        open_runner: Callable[[], CallRunner],
        http: HttpTools | None = None,
        mcp: McpTools | None = None,
        config_dir: Path | None = None,
    ) -> None:
        self._catalog = catalog
        self._open_runner = open_runner
        self._runner: CallRunner | None = None
        self._http = http or HttpTools()
        self._mcp = mcp or McpTools({}, checkout=Path.cwd())
        self._config_dir = config_dir
        # One thread owns every SQLite connection, and keeps the event loop free.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix=SERVICE_NAME)

    @property
    def catalog(self) -> ToolCatalog:
        return self._catalog

    def warm_up(self) -> None:
        self._worker.submit(self._runner_on_worker).result()

    async def open(self) -> None:
        """Lists every MCP server's tools into the catalog; a server that cannot be reached
        keeps the tools of the kept listing, whose calls fail until it is back."""
        listing = await self._mcp.list_all()
        if listing and self._config_dir is not None:
            # Reading the config files: off the event loop.
            self._catalog = await asyncio.to_thread(self._listed_catalog, self._config_dir, listing)

    def _listed_catalog(
        self, config_dir: Path, listing: dict[str, list[ListedTool]]
    ) -> ToolCatalog:
        kept = load_mcp_listing(config_dir).servers
        for server, tools in listing.items():
            if kept.get(server) != tools:
                log.warning(
                    "MCP server %s lists other tools than %s keeps; `make mcp-tools` updates it",
                    server,
                    config_dir / MCP_TOOLS_FILE,
                )
        try:
            return load_tool_catalog(config_dir, mcp_listing={**kept, **listing})
        except ValueError as exc:
            log.error("MCP tools not listed into the catalog: %s", exc)
            return self._catalog

    async def close(self) -> None:
        await self._http.close()
        await self._mcp.close()

    async def handle(self, event: StepEvent, step: StepCall) -> None:
        params = step_params(step)
        if params.call is None:
            requested = list(event.model_output.tool_calls)
        else:
            fixed, missing = bind_fixed_call(self._catalog, params.call, event)
            if missing:
                unbound = _exchange(event, step, fixed, _precondition_failed(missing))
                event.tool_exchanges.append(unbound)
                await _audit_call(step, unbound)
                return
            requested = [fixed]
        checked = [await self._check(event, step, call, i) for i, call in enumerate(requested)]
        for item in checked:
            with tracer().start_as_current_span(
                f"execute_tool {item.call.tool}",
                kind=SpanKind.INTERNAL,
                attributes={
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": item.call.tool,
                    "gen_ai.tool.call.id": item.call.call_id,
                },
            ) as span:
                exchange = await self._run(event, step, item)
                outcome = "ok" if exchange.ok else exchange.error.code
                TOOL_CALLS.add(
                    1,
                    {"tool": item.call.tool, "outcome": outcome, "replayed": exchange.replayed},
                )
                span.set_attributes(
                    {
                        "conduit.tool.idempotency_key": exchange.idempotency_key,
                        "conduit.tool.outcome": outcome,
                        "conduit.tool.replayed": exchange.replayed,
                    }
                )
            event.tool_exchanges.append(exchange)
            await _audit_call(step, exchange)
            if not exchange.ok:
                break

    async def _check(
        self, event: StepEvent, step: StepCall, call: ToolCall, index: int
    ) -> CheckedCall:
        try:
            return check_call(self._catalog, event, call, index)
        except ToolNotAllowed as refusal:
            if step.audit is not None:
                await step.audit.record(AUTHORIZATION, call.tool, "refused", detail=refusal.message)
            raise

    async def _run(self, event: StepEvent, step: StepCall, item: CheckedCall) -> ToolExchange:
        failures = unbound_arguments(item.spec, item.arguments, event) + requirement_failures(
            item.spec, item.arguments, event.tool_exchanges
        )
        if failures:
            return _exchange(event, step, item.call, _precondition_failed(failures))
        key = idempotency_key(event, step, item.call.call_id)
        if item.spec.approval is not None:
            decided = decision_of(event, key)
            if decided is None:
                # Parks the request as it came to this step; earlier calls replay on resume.
                raise AwaitingApproval(approval_request(event, item, key))
            refused = refusal(decided, item.spec.name)
            if refused is not None:
                return _exchange(event, step, item.call, refused)
        scope = CallScope(event.envelope.tenant_id, list(event.request.sealed_values))
        if item.spec.kind == "python":
            outcome, replayed = await self._on_worker(lambda r: r.run(item, key, scope))
        else:
            outcome, replayed = await self._run_remote(item, key, scope)
        return _exchange(event, step, item.call, outcome, replayed=replayed)

    async def _run_remote(
        self, item: CheckedCall, key: str, scope: CallScope
    ) -> tuple[Outcome, bool]:
        """Claimed and completed in the ledger on the worker; the call itself awaited here."""
        claimed = await self._on_worker(lambda r: r.claim(item, key, scope))
        if not isinstance(claimed, Claimed):
            return claimed
        try:
            result: JsonObject | ToolFailure = await self._call_remote(
                item.spec, claimed.arguments, key
            )
        except ToolFailure as failure:
            result = failure
        outcome = await self._on_worker(lambda r: r.finish(key, scope.tenant_id, result))
        return outcome, False

    async def _call_remote(
        self, spec: ToolSpec, arguments: dict[str, object], key: str
    ) -> JsonObject:
        if spec.kind == "http":
            return await self._http.call(spec, dict(arguments), idempotency_key=key)
        return await self._mcp.call(spec, dict(arguments))

    async def _on_worker(self, work: Callable[[CallRunner], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, lambda: work(self._runner_on_worker()))

    def _runner_on_worker(self) -> CallRunner:
        if self._runner is None:
            self._runner = self._open_runner()
        return self._runner


async def _audit_call(step: StepCall, exchange: ToolExchange) -> None:
    """Every call on the audit trail, replayed and failed ones too; the log redacts."""
    if step.audit is None:
        return
    detail = exchange.call.arguments_json
    if exchange.replayed:
        detail = f"replayed {detail}"
    if not exchange.ok:
        detail = f"{detail}; {exchange.error.message}"
    await step.audit.record(
        TOOL_CALL,
        exchange.call.tool,
        "ok" if exchange.ok else exchange.error.code,
        detail=detail,
        idempotency_key=exchange.idempotency_key,
    )


def _precondition_failed(reasons: list[str]) -> Outcome:
    return Outcome(ok=False, error_code=PRECONDITION_FAILED, error_message="; ".join(reasons))


def _exchange(
    event: StepEvent, step: StepCall, call: ToolCall, outcome: Outcome, *, replayed: bool = False
) -> ToolExchange:
    exchange = ToolExchange(
        call=call,
        ok=outcome.ok,
        result_json=outcome.result_json,
        idempotency_key=idempotency_key(event, step, call.call_id),
        replayed=replayed,
        at_step=event.envelope.workflow.steps_taken,
    )
    if not outcome.ok:
        exchange.error.CopyFrom(ToolError(code=outcome.error_code, message=outcome.error_message))
    return exchange


def build(settings: ConduitSettings) -> StepService:
    own = ToolExecutorSettings()
    config = settings.config_dir
    catalog = load_tool_catalog(config)
    open_runner = functools.partial(
        CallRunner.open,
        ledger=ledger_path(settings),
        business_db=own.business_db(settings),
        seed=config / DEMO_SEED_FILE,
        policy=load_yaml_model(config / REFUND_POLICY_FILE, RefundPolicy),
        handlers=resolve_handlers(catalog, config / TOOLS_FILE),
        vault=vault_path(settings),
        vault_keys=own.vault_keys(settings),
    )
    executor = ToolExecutor(
        catalog=catalog,
        open_runner=open_runner,
        mcp=McpTools(load_mcp_servers(config), checkout=config.resolve().parent),
        config_dir=config,
    )
    return StepService(
        name=SERVICE_NAME,
        handle=executor.handle,
        warm_up=executor.warm_up,
        open=executor.open,
        close=executor.close,
    )
