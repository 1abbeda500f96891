"""`http` tools from OpenAPI 3 operations: method, path, base URL and arguments read at load.

Each path, query and header parameter and each property of a JSON request body becomes an
argument (names made identifiers: `X-Trace-Id` → `x_trace_id`). The tool's YAML may adjust
an argument (`values_from`, `description`, `pii`, ...) but not add one the operation lacks.

The JSON schemas of the operation's 2xx (and `default`) responses are kept, each able to
resolve the spec's `#/components/schemas/...`, so the tool-executor checks every answer.
OpenAPI 3.0 schemas are checked as JSON Schema draft 4 (`nullable` made a `null` type),
3.1 ones in the spec's `jsonSchemaDialect` (2020-12 unless it says otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from shared.tools.schemas import UnsupportedSchema, argument_body, argument_name

_METHODS = ("get", "post", "put", "patch", "delete")
_DRAFT_4 = "http://json-schema.org/draft-04/schema#"
_DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
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
        "responses": _response_schemas(document, operation, f"{where} ({spec_path})"),
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


def _response_schemas(
    document: Mapping[str, Any], operation: Mapping[str, Any], where: str
) -> dict[str, dict[str, dict[str, Any]]]:
    """Per 2xx status (`200`, `2xx`, `default`) and JSON media type: what an answer must match."""
    schemas: dict[str, dict[str, dict[str, Any]]] = {}
    for declared, response in (operation.get("responses") or {}).items():
        status = str(declared).lower()
        if not (status.startswith("2") or status == "default"):
            continue
        field = f"{where}.responses.{status}"
        try:
            content = _resolve(document, response).get("content") or {}
            by_media = {
                str(media).lower(): _checkable(document, body["schema"])
                for media, body in content.items()
                if is_json_media(str(media)) and isinstance(body, Mapping) and "schema" in body
            }
        except UnsupportedSchema as exc:
            raise OpenApiError(f"{field}: {exc}") from exc
        # Declared without a JSON schema: that status's answers are not checked.
        schemas[status] = {media: {"definition": s} for media, s in by_media.items()}
    return schemas


def is_json_media(media: str) -> bool:
    """`application/json`, `...+json`, or a wildcard that covers them."""
    media = media.split(";", maxsplit=1)[0].strip().lower()
    return media in ("application/json", "application/*", "*/*") or media.endswith("+json")


def _checkable(document: Mapping[str, Any], schema: Any) -> dict[str, Any]:
    """`schema` as a JSON schema on its own: the spec's component schemas beside it, so its
    `$ref`s resolve, each checked to resolve now rather than when an answer comes."""
    _check_references(document, schema, seen=set())
    components = (document.get("components") or {}).get("schemas") or {}
    if str(document.get("openapi", "")).startswith("3.0"):
        return {
            "$schema": _DRAFT_4,
            "allOf": [_nullable_as_type(schema)],
            "components": {"schemas": _nullable_as_type(components)},
        }
    return {
        "$schema": document.get("jsonSchemaDialect") or _DRAFT_2020_12,
        "allOf": [schema],
        "components": {"schemas": components},
    }


def _check_references(document: Mapping[str, Any], node: Any, *, seen: set[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _check_references(document, item, seen=seen)
        return
    if not isinstance(node, Mapping):
        return
    reference = node.get("$ref")
    if isinstance(reference, str) and reference not in seen:
        if not reference.startswith("#/components/schemas/"):
            raise UnsupportedSchema(
                f"a response schema may only refer to #/components/schemas/, not {reference!r}"
            )
        seen.add(reference)
        _check_references(document, _resolve(document, node), seen=seen)
    for key, value in node.items():
        if key != "$ref":
            _check_references(document, value, seen=seen)


def _nullable_as_type(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` as JSON Schema says it: `null` among the types."""
    if isinstance(node, list):
        return [_nullable_as_type(item) for item in node]
    if not isinstance(node, Mapping):
        return node
    converted = {key: _nullable_as_type(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        if isinstance(converted.get("type"), str):
            converted["type"] = [converted["type"], "null"]
        if isinstance(converted.get("enum"), list):
            converted["enum"] = [*converted["enum"], None]
    return converted


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
