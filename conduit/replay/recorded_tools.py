"""The replay's tool-executor: every tool call is answered from the recording, none runs.

Calls go through the same checks as in the real tool-executor (known tool, the caller's
roles, valid arguments, values bound to the request, the tool's requirements); then the
recorded result for the same tool and canonical arguments answers, in the order they were
recorded (a call made more often than recorded gets the last answer again). A call that
was never recorded fails with `TOOL_NOT_RECORDED`, which ends the run like any failed
tool: nothing external is called, no ledger or business database is touched.

Example::

    tools = RecordedTools(catalog)
    tools.load(recording.request_id, recording.tool_exchanges())
    service = tools.service()  # stands in for the tool-executor in `EmbeddedConduit`
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from services.tool_executor.calls import bind_fixed_call, check_call, step_params
from services.tool_executor.service import PRECONDITION_FAILED, SERVICE_NAME, idempotency_key
from shared.contracts import StepEvent, ToolCall, ToolError, ToolExchange
from shared.runtime import StepCall, StepService
from shared.tools import ToolCatalog, requirement_failures, unbound_arguments

TOOL_NOT_RECORDED = "TOOL_NOT_RECORDED"


@dataclass
class _Answers:
    """The recorded outcomes of one (tool, arguments), handed out in order."""

    recorded: list[ToolExchange] = field(default_factory=list)
    handed_out: int = 0

    def next(self) -> ToolExchange:
        answer = self.recorded[min(self.handed_out, len(self.recorded) - 1)]
        self.handed_out += 1
        return answer


class RecordedTools:
    """Tool answers by request id: a replayed request keeps its recorded id."""

    def __init__(self, catalog: ToolCatalog) -> None:
        self._catalog = catalog
        self._answers: dict[str, dict[tuple[str, str], _Answers]] = {}

    def load(self, request_id: str, exchanges: Iterable[ToolExchange]) -> None:
        """The calls recorded for request `request_id` and what each returned."""
        answers = self._answers.setdefault(request_id, {})
        for exchange in exchanges:
            key = (exchange.call.tool, exchange.call.arguments_json)
            answers.setdefault(key, _Answers()).recorded.append(exchange)

    def service(self) -> StepService:
        return StepService(name=SERVICE_NAME, handle=self.handle)

    async def handle(self, event: StepEvent, step: StepCall) -> None:
        params = step_params(step)
        if params.call is None:
            requested = list(event.model_output.tool_calls)
        else:
            fixed, missing = bind_fixed_call(self._catalog, params.call, event)
            if missing:
                event.tool_exchanges.append(
                    _failed(event, step, fixed, PRECONDITION_FAILED, "; ".join(missing))
                )
                return
            requested = [fixed]
        checked = [check_call(self._catalog, event, call, i) for i, call in enumerate(requested)]
        for item in checked:
            failures = unbound_arguments(item.spec, item.arguments, event) + requirement_failures(
                item.spec, item.arguments, event.tool_exchanges
            )
            if failures:
                exchange = _failed(event, step, item.call, PRECONDITION_FAILED, "; ".join(failures))
            else:
                exchange = self._answer(event, step, item.call)
            event.tool_exchanges.append(exchange)
            if not exchange.ok:
                break

    def _answer(self, event: StepEvent, step: StepCall, call: ToolCall) -> ToolExchange:
        request_id = event.envelope.request_id
        answers = self._answers.get(request_id, {}).get((call.tool, call.arguments_json))
        if answers is None:
            return _failed(
                event,
                step,
                call,
                TOOL_NOT_RECORDED,
                f"the recording of {request_id} holds no {call.tool} call with arguments "
                f"{call.arguments_json}",
            )
        recorded = answers.next()
        exchange = _exchange(event, step, call)
        exchange.ok = recorded.ok
        exchange.result_json = recorded.result_json
        if not recorded.ok:
            exchange.error.CopyFrom(recorded.error)
        return exchange


def _exchange(event: StepEvent, step: StepCall, call: ToolCall) -> ToolExchange:
    return ToolExchange(
        call=call,
        idempotency_key=idempotency_key(event, step, call.call_id),
        at_step=event.envelope.workflow.steps_taken,
    )


def _failed(
    event: StepEvent, step: StepCall, call: ToolCall, code: str, message: str
) -> ToolExchange:
    exchange = _exchange(event, step, call)
    exchange.ok = False
    exchange.error.CopyFrom(ToolError(code=code, message=message))
    return exchange
