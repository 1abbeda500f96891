"""JSON schemas of foreign tools (OpenAPI parameters, MCP input schemas) as `ArgumentSpec` bodies.

Only what an `ArgumentSpec` can say is accepted: a string, number, integer or boolean,
with its description, pattern, bounds and string enum. Anything else is refused with the
reason, so a tool whose arguments cannot be checked never reaches the model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from shared.text.patterns import literal_pattern

_SCALARS = ("string", "number", "integer", "boolean")
_BOUNDS = {"minimum": "minimum", "maximum": "maximum", "exclusiveMinimum": "exclusive_minimum"}


class UnsupportedSchema(ValueError):
    """A schema an `ArgumentSpec` cannot represent; the message says why."""


def argument_name(wire_name: str) -> str:
    """The identifier an argument goes by in the catalog (`X-Request-Id` → `x_request_id`)."""
    name = re.sub(r"[^a-z0-9]+", "_", wire_name.lower()).strip("_")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise UnsupportedSchema(f"{wire_name!r} cannot be made an argument name")
    return name


def argument_body(schema: Mapping[str, Any], *, name: str, required: bool) -> dict[str, Any]:
    """An `ArgumentSpec` body for a property schema; `UnsupportedSchema` when it has none."""
    schema, nullable = _without_null(schema)
    kind = schema.get("type")
    if kind not in _SCALARS:
        raise UnsupportedSchema(f"{name}: type {kind!r} is not one of {', '.join(_SCALARS)}")
    description = schema.get("description") or schema.get("title") or name
    body: dict[str, Any] = {
        "type": kind,
        "description": str(description),
        "required": required and not nullable,
    }
    if kind == "string" and "enum" in schema:
        values = schema["enum"]
        if not all(isinstance(value, str) for value in values):
            raise UnsupportedSchema(f"{name}: a string enum must list strings")
        body["pattern"] = "^(" + "|".join(literal_pattern(value) for value in values) + ")$"
    elif kind == "string" and isinstance(schema.get("pattern"), str):
        body["pattern"] = schema["pattern"]
    if kind in ("number", "integer"):
        for source, target in _BOUNDS.items():
            if isinstance(schema.get(source), int | float) and not isinstance(
                schema.get(source), bool
            ):
                body[target] = schema[source]
    return body


def object_arguments(schema: Mapping[str, Any], *, where: str) -> dict[str, dict[str, Any]]:
    """Argument bodies for each property of an object schema (an MCP `inputSchema`)."""
    if schema.get("type", "object") != "object":
        raise UnsupportedSchema(f"{where}: the input schema is not an object")
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    arguments = {}
    for wire_name, property_schema in properties.items():
        if wire_name != argument_name(wire_name):
            raise UnsupportedSchema(f"{where}: property {wire_name!r} is not an identifier")
        arguments[wire_name] = argument_body(
            property_schema, name=f"{where}.{wire_name}", required=wire_name in required
        )
    return arguments


def _without_null(schema: Mapping[str, Any]) -> tuple[Mapping[str, Any], bool]:
    """`anyOf: [X, {type: null}]` (how Optional[X] is written) as X, and whether null is allowed."""
    options = schema.get("anyOf")
    if not isinstance(options, list):
        return schema, False
    others = [option for option in options if option.get("type") != "null"]
    if len(others) != 1:
        return schema, False
    merged = {**others[0], **{k: v for k, v in schema.items() if k != "anyOf"}}
    return merged, len(others) < len(options)
