"""MCP servers (`mcp_servers.yaml`) and the tools they list, as catalog entries.

    servers:
      itops:
        transport: stdio            # or streamable_http, with `url`
        command: python             # `python`: the tool-executor's own interpreter
        args: [examples/itops/mcp_server.py]
        roles: [it_operator]
        tools:                      # optional, per listed tool
          create_ticket: {side_effect: true, safe_to_retry: true, requires: [...]}

Tools are named `<prefix>_<tool>` (prefix: the server's name unless given): catalog names
are identifiers, and models' function names allow no dots. A tool that the server marks
read-only has no side effect and is safe to retry; one marked idempotent is safe to retry.

The tool-executor lists every server when it starts and runs what it listed. Other
processes (the prompt-builder) read the listing kept in `mcp_tools.yaml` beside it, written
by `make mcp-tools` and reviewed like any config change, so they never spawn servers.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.config import ConfigFileError, load_yaml_model
from shared.tools.catalog import Identifier, Requirement, ToolSpec
from shared.tools.kinds import DEFAULT_MAX_RESULT_BYTES, DEFAULT_TIMEOUT_S
from shared.tools.schemas import UnsupportedSchema, object_arguments

MCP_SERVERS_FILE = "mcp_servers.yaml"
MCP_TOOLS_FILE = "mcp_tools.yaml"

log = logging.getLogger(__name__)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class McpToolSettings(_Strict):
    """What the server's listing cannot say about one of its tools."""

    side_effect: bool | None = None
    safe_to_retry: bool | None = None
    requires: list[Requirement] = Field(default_factory=list)
    roles: list[str] | None = None
    timeout_s: float | None = Field(default=None, gt=0, le=300)
    # Per argument: `values_from`, `description`, `pii`, ... on top of the listed schema.
    arguments: dict[str, dict[str, Any]] = Field(default_factory=dict)


class _Server(_Strict):
    roles: list[str] = Field(min_length=1)
    prefix: Identifier | None = None
    timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, gt=0, le=300)
    connect_timeout_s: float = Field(default=10.0, gt=0, le=120)
    max_result_bytes: int = Field(default=DEFAULT_MAX_RESULT_BYTES, gt=0)
    tools: dict[str, McpToolSettings] = Field(default_factory=dict)


class StdioServer(_Server):
    """A server the tool-executor runs as its child, speaking MCP on stdin/stdout."""

    transport: Literal["stdio"]
    command: str = Field(min_length=1)
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    # Relative to the checkout (the config directory's parent); the default is the checkout.
    cwd: str | None = None


class StreamableHttpServer(_Server):
    """A server already running, reached over MCP's streamable HTTP transport."""

    transport: Literal["streamable_http"]
    url: str = Field(pattern=r"^https?://")


McpServer = Annotated[StdioServer | StreamableHttpServer, Field(discriminator="transport")]


class McpServersFile(_Strict):
    servers: dict[Identifier, McpServer] = Field(default_factory=dict)


class ListedTool(_Strict):
    """One tool as a server lists it (what the catalog needs of MCP's `Tool`)."""

    name: str
    description: str = ""
    input_schema: dict[str, Any]
    read_only: bool = False
    idempotent: bool = False
    # What its `structuredContent` must match, when the tool declares it.
    output_schema: dict[str, Any] | None = None


class McpListing(_Strict):
    """The tools each server listed, as kept in `mcp_tools.yaml`."""

    servers: dict[str, list[ListedTool]] = Field(default_factory=dict)


def load_mcp_servers(config_dir: Path) -> dict[str, StdioServer | StreamableHttpServer]:
    """The declared servers; none when `mcp_servers.yaml` is absent."""
    path = config_dir / MCP_SERVERS_FILE
    if not path.exists():
        return {}
    return dict(load_yaml_model(path, McpServersFile).servers)


def load_mcp_listing(config_dir: Path) -> McpListing:
    path = config_dir / MCP_TOOLS_FILE
    return load_yaml_model(path, McpListing) if path.exists() else McpListing()


def mcp_tool_specs(
    server_name: str, server: StdioServer | StreamableHttpServer, listed: list[ListedTool]
) -> tuple[dict[str, ToolSpec], list[str]]:
    """Catalog entries for the listed tools, and why each tool left out was left out."""
    specs: dict[str, ToolSpec] = {}
    skipped: list[str] = []
    for tool in listed:
        where = f"{MCP_SERVERS_FILE}: servers.{server_name} tool {tool.name!r}"
        try:
            spec = _spec(server_name, server, tool)
        except (UnsupportedSchema, ValidationError) as exc:
            skipped.append(f"{where}: {exc}")
            continue
        specs[spec.name] = spec
    return specs, skipped


def _spec(
    server_name: str, server: StdioServer | StreamableHttpServer, tool: ListedTool
) -> ToolSpec:
    settings = server.tools.get(tool.name, McpToolSettings())
    arguments = object_arguments(tool.input_schema, where=tool.name)
    for argument, override in settings.arguments.items():
        if argument not in arguments:
            raise UnsupportedSchema(f"tools.{tool.name}.arguments.{argument}: not listed")
        arguments[argument] = {**arguments[argument], **override}
    side_effect = settings.side_effect if settings.side_effect is not None else not tool.read_only
    safe_to_retry = settings.safe_to_retry
    if safe_to_retry is None:
        safe_to_retry = tool.read_only or tool.idempotent
    if side_effect and not settings.requires:
        raise UnsupportedSchema(
            "it may have a side effect (not marked read-only): declare its `requires` under "
            f"servers.{server_name}.tools.{tool.name}, or `side_effect: false`"
        )
    return ToolSpec.model_validate(
        {
            "name": f"{server.prefix or server_name}_{tool.name}",
            "description": tool.description or tool.name,
            "kind": "mcp",
            "mcp": {
                "server": server_name,
                "tool": tool.name,
                "output_schema": None
                if tool.output_schema is None
                else {"definition": tool.output_schema},
            },
            "side_effect": side_effect,
            "safe_to_retry": safe_to_retry,
            "roles": settings.roles or server.roles,
            "requires": settings.requires,
            "timeout_s": settings.timeout_s or server.timeout_s,
            "max_result_bytes": server.max_result_bytes,
            "arguments": arguments,
        }
    )


def listed_mcp_specs(
    config_dir: Path, listing: Mapping[str, list[ListedTool]] | None = None
) -> dict[str, ToolSpec]:
    """The MCP tools of the catalog, from `listing` or else the one kept in `mcp_tools.yaml`."""
    servers = load_mcp_servers(config_dir)
    kept = listing if listing is not None else load_mcp_listing(config_dir).servers
    specs: dict[str, ToolSpec] = {}
    for name, server in servers.items():
        server_specs, skipped = mcp_tool_specs(name, server, kept.get(name, []))
        for reason in skipped:
            log.warning("MCP tool left out of the catalog: %s", reason)
        specs.update(server_specs)
    unknown = sorted(set(kept) - set(servers))
    if unknown:
        raise ConfigFileError(
            f"{config_dir / MCP_TOOLS_FILE}: servers: {unknown} are not declared in "
            f"{MCP_SERVERS_FILE}; run `make mcp-tools` again"
        )
    return specs
