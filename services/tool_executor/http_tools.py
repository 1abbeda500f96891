"""Calling `http` tools: one OpenAPI operation per tool, over a shared `httpx.AsyncClient`."""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Any
from urllib.parse import quote

import httpx

from services.tool_executor.business import JsonObject, ToolFailure
from services.tool_executor.remote import (
    TOOL_RESULT_INVALID,
    TOOL_UNAVAILABLE,
    TransientToolFailure,
    call_remote,
    check_result,
    check_size,
    http_failure,
    parse_json,
)
from shared.tools import ToolSpec
from shared.tools.kinds import HttpAuth, HttpOperation
from shared.tools.results import ResultSchema

IDEMPOTENCY_HEADER = "Idempotency-Key"


class HttpTools:
    """Example: `await HttpTools().call(spec, {"service": "payments"}, idempotency_key=key)`."""

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    async def call(
        self, spec: ToolSpec, arguments: dict[str, Any], *, idempotency_key: str
    ) -> JsonObject:
        operation = spec.http
        if operation is None:
            raise ValueError(f"{spec.name} is not an http tool")
        return await call_remote(
            spec, lambda: self._attempt(spec, operation, arguments, idempotency_key)
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _attempt(
        self, spec: ToolSpec, operation: HttpOperation, arguments: dict[str, Any], key: str
    ) -> Any:
        client = self._client_for_loop()
        path, query, headers, body = operation.path, {}, {}, {}
        for name, value in arguments.items():
            parameter = operation.parameters[name]
            if value is None:
                continue
            if parameter.location == "path":
                path = path.replace(f"{{{parameter.wire_name}}}", quote(str(value), safe=""))
            elif parameter.location == "query":
                query[parameter.wire_name] = value
            elif parameter.location == "header":
                headers[parameter.wire_name] = str(value)
            else:
                body[parameter.wire_name] = value
        # The same key on every attempt and redelivery: the service can deduplicate.
        headers[IDEMPOTENCY_HEADER] = hashlib.sha256(key.encode()).hexdigest()
        if spec.auth is not None:
            headers.update(_auth_headers(spec.name, spec.auth))
        request = client.build_request(
            operation.method,
            _base_url(spec.name, operation).rstrip("/") + path,
            params=query,
            headers=headers,
            json=body if operation.method not in ("GET", "DELETE") else None,
        )
        try:
            response = await client.send(request, stream=True)
        except httpx.TransportError as exc:
            raise TransientToolFailure(
                TOOL_UNAVAILABLE, f"{spec.name}: {type(exc).__name__} calling {request.url.host}"
            ) from exc
        try:
            content = await _read_limited(spec, response)
        finally:
            await response.aclose()
        if response.status_code >= 400:
            detail = content[:300].decode(errors="replace")
            raise http_failure(
                response.status_code, f"{spec.name}: HTTP {response.status_code}: {detail}"
            )
        value = parse_json(spec, content)
        declared = _declared_answer(spec, operation, response)
        if declared is not None:
            check_result(spec, value, *declared)
        return value

    def _client_for_loop(self) -> httpx.AsyncClient:
        if self._client is None:
            # Timeouts are the tool's own (one per attempt, in call_remote), not httpx's.
            self._client = httpx.AsyncClient(transport=self._transport, timeout=None)
        return self._client


async def _read_limited(spec: ToolSpec, response: httpx.Response) -> bytes:
    """The body, stopped as soon as it passes the tool's limit (no oversize buffering)."""
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        check_size(spec, size)
        chunks.append(chunk)
    return b"".join(chunks)


def _declared_answer(
    spec: ToolSpec, operation: HttpOperation, response: httpx.Response
) -> tuple[ResultSchema, str] | None:
    """The schema the operation declares for this status and media type, and its name;
    `None` when it declares none (nothing to check)."""
    status = str(response.status_code)
    for key in (status, f"{status[0]}xx", "default"):
        if key in operation.responses:
            by_media = operation.responses[key]
            break
    else:
        return None
    if not by_media:
        return None
    media = response.headers.get("content-type", "").split(";", maxsplit=1)[0].strip().lower()
    for candidate in (media, "application/*", "*/*"):
        if candidate in by_media:
            return by_media[candidate], f"its OpenAPI {key} response ({candidate})"
    raise ToolFailure(
        TOOL_RESULT_INVALID,
        f"{spec.name}: HTTP {status} answered {media or 'without a content type'}; "
        f"the operation declares {', '.join(sorted(by_media))}",
    )


def _base_url(tool: str, operation: HttpOperation) -> str:
    if operation.base_url_env is not None and os.environ.get(operation.base_url_env):
        return os.environ[operation.base_url_env]
    if operation.base_url is None:
        raise ToolFailure(TOOL_UNAVAILABLE, f"{tool}: no base URL (spec `servers` or env)")
    return operation.base_url


def _auth_headers(tool: str, auth: HttpAuth) -> dict[str, str]:
    secret = os.environ.get(auth.secret_env)
    if not secret:
        # Names the variable, never a value.
        raise ToolFailure(TOOL_UNAVAILABLE, f"{tool}: the secret {auth.secret_env} is not set")
    if auth.scheme == "bearer":
        return {"Authorization": f"Bearer {secret}"}
    if auth.scheme == "basic":
        return {"Authorization": "Basic " + base64.b64encode(secret.encode()).decode()}
    return {auth.header or "X-Api-Key": secret}
