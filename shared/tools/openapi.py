"""`http` tools from OpenAPI 3 operations: method, path, base URL and arguments read at load.

Each path, query and header parameter and each property of a JSON request body becomes an
argument (names made identifiers: `X-Trace-Id` → `x_trace_id`). The tool's YAML may adjust
an argument (`values_from`, `description`, `pii`, ...) but not add one the operation lacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from shared.tools.schemas import UnsupportedSchema, argument_body, argument_name

_METHODS = ("get", "post", "put", "patch", "delete")
# Set by the tool-executor itself, never by the model.
_RESERVED_HEADERS = frozenset({"authorization", "idempotency-key"})


class OpenApiError(ValueError):
    """An `http` tool that does not fit its spec; the message starts with the field."""


def resolve_http_tool(name: str, body: Mapping[str, Any], config_dir: Path) -> dict[str, Any]:
    """The tool's body with `http` and `arguments` filled in from its `openapi` operation."""
    where = f"tools.{name}"
    reference = body.get("openapi")
    if not isinstance(reference, Mapping):
        raise OpenApiError(f"{where}.openapi: an `http` tool needs {{spec: ..., operation: ...}}")
    spec_path = config_dir / str(reference.get("spec", ""))
    document = _read_spec(spec_path, f"{where}.openapi.spec")
    found = _find_operation(document, str(reference.get("operation", "")))
    if found is None:
        raise OpenApiError(
            f"{where}.openapi.operation: no operation {reference.get('operation')!r} in {spec_path}"
        )
    method, path, operation, path_item = found
    arguments, parameters = _arguments(document, operation, path_item, f"{where} ({spec_path})")
    overrides = body.get("arguments") or {}
    for argument, override in overrides.items():
        if argument not in arguments:
            raise OpenApiError(
                f"{where}.arguments.{argument}: the operation has no such argument; "
                f"it takes {sorted(arguments)}"
            )
        arguments[argument] = {**arguments[argument], **override}
    servers = document.get("servers") or []
    http = {
        "method": method.upper(),
        "path": path,
        "base_url": reference.get("base_url") or (servers[0].get("url") if servers else None),
        "base_url_env": reference.get("base_url_env"),
        "parameters": parameters,
    }
    return {**body, "arguments": arguments, "http": http}


def _read_spec(path: Path, field: str) -> Mapping[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise OpenApiError(f"{field}: cannot read OpenAPI spec {path}: {exc}") from exc
    if not isinstance(document, Mapping) or not str(document.get("openapi", "")).startswith("3"):
        raise OpenApiError(f"{field}: {path} is not an OpenAPI 3 document")
    return document


def _find_operation(
    document: Mapping[str, Any], operation_id: str
) -> tuple[str, str, Mapping[str, Any], Mapping[str, Any]] | None:
    for path, path_item in (document.get("paths") or {}).items():
        for method in _METHODS:
            operation = path_item.get(method)
            if isinstance(operation, Mapping) and operation.get("operationId") == operation_id:
                return method, path, operation, path_item
    return None


def _arguments(
    document: Mapping[str, Any],
    operation: Mapping[str, Any],
    path_item: Mapping[str, Any],
    where: str,
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, str]]]:
    arguments: dict[str, dict[str, Any]] = {}
    parameters: dict[str, dict[str, str]] = {}
    declared = [*(path_item.get("parameters") or []), *(operation.get("parameters") or [])]
    try:
        for raw in declared:
            parameter = _resolve(document, raw)
            location, wire_name = parameter.get("in"), str(parameter.get("name"))
            if location == "header" and wire_name.lower() in _RESERVED_HEADERS:
                continue
            if location not in ("path", "query", "header"):
                raise UnsupportedSchema(f"parameter {wire_name!r} in {location!r}")
            name = argument_name(wire_name)
            schema = {
                **_resolve(document, parameter.get("schema") or {}),
                **({"description": parameter["description"]} if "description" in parameter else {}),
            }
            required = bool(parameter.get("required")) or location == "path"
            arguments[name] = argument_body(schema, name=name, required=required)
            parameters[name] = {"location": str(location), "wire_name": wire_name}
        body_schema = _json_body_schema(document, operation)
        if body_schema is not None:
            required_properties = set(body_schema.get("required") or [])
            for wire_name, schema in (body_schema.get("properties") or {}).items():
                name = argument_name(wire_name)
                arguments[name] = argument_body(
                    _resolve(document, schema), name=name, required=wire_name in required_properties
                )
                parameters[name] = {"location": "body", "wire_name": wire_name}
    except UnsupportedSchema as exc:
        raise OpenApiError(f"{where}.arguments: {exc}") from exc
    return arguments, parameters


def _json_body_schema(
    document: Mapping[str, Any], operation: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    request_body = operation.get("requestBody")
    if request_body is None:
        return None
    content = _resolve(document, request_body).get("content") or {}
    media = content.get("application/json")
    if media is None:
        raise UnsupportedSchema("the request body is not application/json")
    schema = _resolve(document, media.get("schema") or {})
    if schema.get("type", "object") != "object":
        raise UnsupportedSchema("the JSON request body is not an object")
    return schema


def _resolve(document: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    """`node`, or what its local `$ref` (`#/components/...`) points to."""
    reference = node.get("$ref")
    if reference is None:
        return node
    if not isinstance(reference, str) or not reference.startswith("#/"):
        raise UnsupportedSchema(f"only local references are supported, not {reference!r}")
    target: Any = document
    for part in reference[2:].split("/"):
        target = target.get(part) if isinstance(target, Mapping) else None
    if not isinstance(target, Mapping):
        raise UnsupportedSchema(f"reference {reference!r} does not resolve")
    return _resolve(document, target)
