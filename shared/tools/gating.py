"""What a request may call now, and with which values: pure functions over a `StepEvent`.

Argument values bound by `values_from` may only be the request's extracted entities or
fields of earlier successful results; a tool with `requires` is usable only once those
earlier calls succeeded with the same arguments and the expected result.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from shared.contracts import StepEvent, ToolExchange
from shared.tools.catalog import ArgumentSpec, Requirement, ToolCatalog, ToolSpec, ValuesFrom


@dataclass(frozen=True)
class OfferedTool:
    """A tool the model may call now. Example: `schema = offered.json_schema()`."""

    spec: ToolSpec
    allowed_values: Mapping[str, Sequence[Any]]

    def json_schema(self) -> dict[str, Any]:
        return self.spec.json_schema(self.allowed_values)


def call_arguments(exchange: ToolExchange) -> dict[str, Any]:
    arguments: dict[str, Any] = json.loads(exchange.call.arguments_json or "{}")
    return arguments


def call_result(exchange: ToolExchange) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(exchange.result_json or "{}")
    return result


def successful(exchanges: Iterable[ToolExchange], tool: str) -> list[ToolExchange]:
    return [x for x in exchanges if x.ok and x.call.tool == tool]


def source_values(argument: ArgumentSpec, source: ValuesFrom, event: StepEvent) -> list[Any]:
    """The distinct values `source` yields in this request that `argument` can take, in order."""
    return _unique(_coerced(argument, _raw_values(source, event)))


def bound_values(spec: ToolSpec, event: StepEvent) -> dict[str, list[Any]]:
    """For each argument with `values_from`, the values this request allows."""
    return {
        name: source_values(argument, argument.values_from, event)
        for name, argument in spec.arguments.items()
        if argument.values_from is not None
    }


def unbound_arguments(spec: ToolSpec, arguments: Mapping[str, Any], event: StepEvent) -> list[str]:
    """Why `arguments` hold values this request did not produce; empty when none do."""
    problems = []
    for name, allowed in bound_values(spec, event).items():
        value = arguments.get(name)
        if value is not None and value not in allowed:
            choices = ", ".join(repr(v) for v in allowed) or "none"
            problems.append(
                f"{spec.name}: {name}={value!r} is not among the values this request allows "
                f"({choices})"
            )
    return problems


def requirement_failures(
    spec: ToolSpec, arguments: Mapping[str, Any], exchanges: Sequence[ToolExchange]
) -> list[str]:
    """Why `spec` may not run with `arguments` yet; empty when every requirement is met."""
    failures = []
    for requirement in spec.requires:
        wanted = {name: arguments.get(name) for name in requirement.same}
        earlier = [
            x
            for x in successful(exchanges, requirement.tool)
            if all(call_arguments(x).get(name) == value for name, value in wanted.items())
        ]
        if not any(_result_matches(x, requirement) for x in earlier):
            failures.append(_describe_unmet(spec, requirement, wanted, earlier))
    return failures


def offerable_tools(
    catalog: ToolCatalog, names: Sequence[str], event: StepEvent
) -> list[OfferedTool]:
    """The tools among `names` the model may call now, each with its allowed values.

    A tool is left out when the principal's roles may not call it, its requirements are
    not met, a bound argument has no value, or every allowed call already succeeded.
    A name the catalog lacks raises `UnknownTool`.
    """
    roles = set(event.envelope.principal.roles)
    exchanges = list(event.tool_exchanges)
    offered = []
    for name in names:
        spec = catalog.spec(name)
        if not roles.intersection(spec.roles):
            continue
        allowed: dict[str, list[Any]] | None = bound_values(spec, event)
        for requirement in spec.requires:
            if allowed is None:
                break
            allowed = _narrowed_by(requirement, allowed, exchanges)
        if allowed is None or not all(allowed.values()):
            continue
        allowed = _without_calls_made(spec, allowed, exchanges)
        if allowed is not None:
            offered.append(OfferedTool(spec, allowed))
    return offered


def _raw_values(source: ValuesFrom, event: StepEvent) -> list[Any]:
    if source.result is None:
        return [e.value for e in event.intent.entities if e.kind == source.entity]
    field = source.result.field
    return [call_result(x).get(field) for x in successful(event.tool_exchanges, source.result.tool)]


def _coerced(argument: ArgumentSpec, values: Iterable[Any]) -> list[Any]:
    coerced = []
    for value in values:
        if value is None:
            continue
        try:
            coerced.append(argument.coerce(value))
        except ValidationError:
            continue
    return coerced


def _unique(values: Iterable[Any]) -> list[Any]:
    unique: list[Any] = []
    for value in values:
        if value not in unique:
            unique.append(value)
    return unique


def _result_matches(exchange: ToolExchange, requirement: Requirement) -> bool:
    result = call_result(exchange)
    return all(result.get(field) == value for field, value in requirement.result.items())


def _describe_unmet(
    spec: ToolSpec,
    requirement: Requirement,
    wanted: Mapping[str, Any],
    earlier: Sequence[ToolExchange],
) -> str:
    call = f"{requirement.tool}({', '.join(f'{k}={v!r}' for k, v in wanted.items())})"
    expected = ", ".join(f"{k}={v!r}" for k, v in requirement.result.items())
    needed = f"{spec.name} requires a successful {call}" + (
        f" returning {expected}" if expected else ""
    )
    if not earlier:
        return f"{needed}; it was not called in this request"
    results = [call_result(x) for x in earlier]
    observed = "; ".join(
        ", ".join(f"{k}={r.get(k)!r}" for k in requirement.result) for r in results
    )
    return f"{needed}; it returned {observed}"


def _narrowed_by(
    requirement: Requirement, allowed: dict[str, list[Any]], exchanges: Sequence[ToolExchange]
) -> dict[str, list[Any]] | None:
    """`allowed`, kept to the values of calls that meet `requirement`; None when none do."""
    meeting = [
        x for x in successful(exchanges, requirement.tool) if _result_matches(x, requirement)
    ]
    if not meeting:
        return None
    narrowed = dict(allowed)
    for name in requirement.same:
        met = _unique(call_arguments(x).get(name) for x in meeting)
        narrowed[name] = [v for v in allowed[name] if v in met] if name in allowed else met
    return narrowed


def _without_calls_made(
    spec: ToolSpec, allowed: dict[str, list[Any]], exchanges: Sequence[ToolExchange]
) -> dict[str, list[Any]] | None:
    """`allowed` less the calls that already succeeded; None when nothing new is left.

    A read-only tool with a free argument is never exhausted: another search is a new
    question. A tool with a side effect is done once per combination of its bound values,
    whatever its free arguments said: a second ticket for the same service under another
    title is a duplicate, and the model must be free to answer.
    """
    if set(spec.arguments) != set(allowed) and not spec.side_effect:
        return allowed
    names = [name for name in spec.arguments if name in allowed]
    made = [
        {name: call_arguments(x).get(name) for name in names}
        for x in successful(exchanges, spec.name)
    ]
    fresh = [
        combination
        for combination in itertools.product(*(allowed[name] for name in names))
        if dict(zip(names, combination, strict=True)) not in made
    ]
    if not fresh:
        return None
    return {name: _unique(c[i] for c in fresh) for i, name in enumerate(names)}
