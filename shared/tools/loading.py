"""Loading the catalog: `tools.yaml`, its `http` tools resolved from their OpenAPI specs,
and the MCP tools listed by the servers of `mcp_servers.yaml`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from shared.config import ConfigFileError
from shared.tools.catalog import TOOLS_FILE, ToolCatalog
from shared.tools.mcp import MCP_SERVERS_FILE, ListedTool, listed_mcp_specs
from shared.tools.openapi import OpenApiError, resolve_http_tool


def load_tool_catalog(
    config_dir: Path, *, mcp_listing: Mapping[str, list[ListedTool]] | None = None
) -> ToolCatalog:
    """The whole catalog; `ConfigFileError` names file and field.

    MCP tools come from `mcp_listing` when given (the tool-executor's live listing), else
    from the listing kept in `mcp_tools.yaml`.
    """
    path = config_dir / TOOLS_FILE
    data = _read(path)
    tools = data.get("tools") if isinstance(data, dict) else None
    if isinstance(tools, dict):
        try:
            resolved = {
                name: resolve_http_tool(name, body, config_dir)
                if isinstance(body, dict) and body.get("kind") == "http"
                else body
                for name, body in tools.items()
            }
        except OpenApiError as exc:
            raise ConfigFileError(f"{path}: {exc}") from exc
        data = {**data, "tools": resolved}
    catalog = _validated(path, lambda: ToolCatalog.model_validate(data))
    mcp_specs = listed_mcp_specs(config_dir, mcp_listing)
    clashes = sorted(set(mcp_specs) & set(catalog.tools))
    if clashes:
        raise ConfigFileError(
            f"{config_dir / MCP_SERVERS_FILE}: MCP tools {clashes} clash with {TOOLS_FILE}; "
            "give the server another `prefix`"
        )
    return _validated(config_dir / MCP_SERVERS_FILE, lambda: catalog.with_tools(mcp_specs))


def _read(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigFileError(f"{path}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigFileError(f"{path}: not valid YAML: {exc}") from exc


def _validated(path: Path, build: Callable[[], ToolCatalog]) -> ToolCatalog:
    try:
        catalog = build()
    except ValidationError as exc:
        fields = "\n".join(
            f"  {'.'.join(str(part) for part in item['loc']) or '(top level)'}: {item['msg']}"
            for item in exc.errors()
        )
        raise ConfigFileError(f"{path}: invalid ToolCatalog:\n{fields}") from exc
    return catalog


__all__ = ["load_tool_catalog"]
