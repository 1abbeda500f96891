"""From a step to checked tool calls: which calls, and whether each may run as asked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from services.tool_executor.ledger import canonical_json
from shared.contracts import StepEvent, ToolCall
from shared.runtime import InvalidArguments, StepCall, StepMisconfigured, ToolNotAllowed
from shared.tools import ToolCatalog, ToolSpec, ValuesFrom, source_values

FIXED_CALL_ID = "fixed"


class FixedCall(BaseModel):
    """A call the workflow makes itself, its arguments bound like `values_from`:

    call: {tool: lookup_order, arguments: {order_id: {entity: order_id}}}
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    tool: str
    arguments: dict[str, ValuesFrom]


class StepParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    call: FixedCall | None = None


@dataclass(frozen=True)
class CheckedCall:
    """A call that passed the catalog: known tool, allowed role, valid arguments."""

    spec: ToolSpec
    # The call as it will be recorded: a call id, arguments in canonical JSON.
    call: ToolCall
    arguments: dict[str, Any]


def step_params(step: StepCall) -> StepParams:
    try:
        return StepParams.model_validate(dict(step.params))
    except ValidationError as exc:
        raise StepMisconfigured(
            f"tool-executor step {step.workflow}.{step.step_id}: {_describe(exc)}"
        ) from exc


def bind_fixed_call(
    catalog: ToolCatalog, fixed: FixedCall, event: StepEvent
) -> tuple[ToolCall, list[str]]:
    """The fixed call with each argument's first bound value, and the arguments left unbound."""
    spec = catalog.spec(fixed.tool)
    arguments: dict[str, Any] = {}
    missing: list[str] = []
    for name, source in fixed.arguments.items():
        argument = spec.arguments.get(name)
        if argument is None:
            raise InvalidArguments(f"{spec.name}: unknown argument {name!r} in the step's call")
        values = source_values(argument, source, event)
        if values:
            arguments[name] = values[0]
        else:
            missing.append(f"{spec.name}: this request has no value for {name}")
    call = ToolCall(call_id=FIXED_CALL_ID, tool=spec.name, arguments_json=canonical_json(arguments))
    return call, missing


def check_call(catalog: ToolCatalog, event: StepEvent, call: ToolCall, index: int) -> CheckedCall:
    """Raises `UnknownTool`, `ToolNotAllowed` or `InvalidArguments` for a call that cannot run."""
    spec = catalog.spec(call.tool)
    roles = list(event.envelope.principal.roles)
    if not set(roles).intersection(spec.roles):
        raise ToolNotAllowed(
            f"{spec.name} is not allowed for roles {roles}; it needs one of {spec.roles}"
        )
    try:
        validated = spec.arguments_model().model_validate_json(call.arguments_json or "{}")
    except ValidationError as exc:
        raise InvalidArguments(f"{spec.name}: invalid arguments: {_describe(exc)}") from exc
    arguments = validated.model_dump()
    recorded = ToolCall(
        call_id=call.call_id or f"call-{index}",
        tool=spec.name,
        arguments_json=canonical_json(arguments),
    )
    return CheckedCall(spec, recorded, arguments)


def _describe(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or '(arguments)'}: {item['msg']}"
        for item in error.errors()
    )
