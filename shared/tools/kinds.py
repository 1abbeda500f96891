"""How a tool of each kind is reached: a Python handler, an OpenAPI operation, an MCP tool.

A tool's `kind` picks one of these; the tool-executor runs every kind behind the same
checks, timeouts, retries, idempotency ledger and audit.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.tools.results import ResultSchema

ToolKind = Literal["python", "http", "mcp"]
ParameterLocation = Literal["path", "query", "header", "body"]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$")]

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MAX_RESULT_BYTES = 256 * 1024


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OpenApiRef(_Strict):
    """The OpenAPI operation an `http` tool calls: `{spec: openapi/x.yaml, operation: searchLogs}`.

    The base URL is the spec's first `servers` entry, unless `base_url` or the environment
    variable `base_url_env` (read at call time) overrides it.
    """

    spec: str = Field(min_length=1)
    operation: str = Field(min_length=1)
    base_url: str | None = None
    base_url_env: EnvName | None = None


class HttpAuth(_Strict):
    """Credentials from the environment variable `secret_env`, read at call time, never logged.

    `bearer` sends `Authorization: Bearer <secret>`, `header` sends `<header>: <secret>`,
    `basic` takes the secret as `user:password`.
    """

    scheme: Literal["bearer", "header", "basic"]
    secret_env: EnvName
    header: str | None = None


class HttpParameter(_Strict):
    """Where one argument goes in the request, under its name on the wire."""

    location: ParameterLocation
    wire_name: str


class HttpOperation(_Strict):
    """An OpenAPI operation resolved at load: what the tool-executor sends."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str
    base_url: str | None
    base_url_env: EnvName | None = None
    parameters: dict[str, HttpParameter]
    # Per 2xx status (`200`, `2xx`, `default`) and JSON media type: what the answer must match.
    responses: dict[str, dict[str, ResultSchema]] = Field(default_factory=dict)


class McpRef(_Strict):
    """The MCP tool behind a tool: `{server: itops, tool: search_logs}`."""

    server: str = Field(min_length=1)
    tool: str = Field(min_length=1)
    # The tool's listed `outputSchema`: its `structuredContent` must match it.
    output_schema: ResultSchema | None = None
