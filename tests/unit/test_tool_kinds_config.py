"""Declaring `http` and `mcp` tools: what loads, and errors that name file and field."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.config import ConfigFileError, repo_root
from shared.tools import load_tool_catalog
from shared.tools.mcp import ListedTool, StdioServer, mcp_tool_specs

CONFIG = repo_root() / "config"
SEARCH_LOGS = {
    "description": "Search logs.",
    "kind": "http",
    "openapi": {"spec": "openapi/itops.yaml", "operation": "searchLogs"},
    "side_effect": False,
    "safe_to_retry": True,
    "roles": ["it_operator"],
}


def _config(
    directory: Path, tools: dict[str, Any], mcp_servers: dict[str, Any] | None = None
) -> Path:
    shutil.copytree(CONFIG / "openapi", directory / "openapi")
    (directory / "tools.yaml").write_text(yaml.safe_dump({"tools": tools}), encoding="utf-8")
    if mcp_servers is not None:
        (directory / "mcp_servers.yaml").write_text(yaml.safe_dump(mcp_servers), encoding="utf-8")
    return directory


def test_an_http_tools_arguments_come_from_its_openapi_operation(tmp_path: Path) -> None:
    catalog = load_tool_catalog(_config(tmp_path, {"search_logs": SEARCH_LOGS}))
    spec = catalog.spec("search_logs")
    assert set(spec.arguments) == {"service", "since_minutes"}, f"wrong arguments: {spec.arguments}"
    assert spec.http is not None, "the operation was not resolved"
    assert (spec.http.method, spec.http.path) == ("GET", "/logs"), f"wrong operation: {spec.http}"


def test_yaml_may_add_values_from_to_an_operations_argument(tmp_path: Path) -> None:
    tool = {**SEARCH_LOGS, "arguments": {"service": {"values_from": {"entity": "service"}}}}
    spec = load_tool_catalog(_config(tmp_path, {"search_logs": tool})).spec("search_logs")
    source = spec.arguments["service"].values_from
    assert source is not None, f"override lost: {spec.arguments}"
    assert source.entity == "service", f"override changed: {source}"


def test_an_unknown_operation_is_named_with_file_and_field(tmp_path: Path) -> None:
    tool = {**SEARCH_LOGS, "openapi": {"spec": "openapi/itops.yaml", "operation": "dropTables"}}
    with pytest.raises(ConfigFileError) as raised:
        load_tool_catalog(_config(tmp_path, {"search_logs": tool}))
    message = str(raised.value)
    assert str(tmp_path / "tools.yaml") in message, f"file not named: {message}"
    assert "tools.search_logs.openapi.operation" in message, f"field not named: {message}"


def test_an_argument_the_operation_lacks_is_rejected(tmp_path: Path) -> None:
    tool = {**SEARCH_LOGS, "arguments": {"region": {"description": "x"}}}
    with pytest.raises(ConfigFileError, match=r"tools\.search_logs\.arguments\.region"):
        load_tool_catalog(_config(tmp_path, {"search_logs": tool}))


def test_a_missing_spec_file_is_named(tmp_path: Path) -> None:
    tool = {**SEARCH_LOGS, "openapi": {"spec": "openapi/nope.yaml", "operation": "searchLogs"}}
    with pytest.raises(ConfigFileError, match=r"tools\.search_logs\.openapi\.spec"):
        load_tool_catalog(_config(tmp_path, {"search_logs": tool}))


def test_a_python_tool_needs_a_handler(tmp_path: Path) -> None:
    tool = {key: value for key, value in SEARCH_LOGS.items() if key not in ("kind", "openapi")}
    tool["arguments"] = {}
    with pytest.raises(ConfigFileError, match=r"tools\.search_logs[\s\S]*needs `handler`"):
        load_tool_catalog(_config(tmp_path, {"search_logs": tool}))


def test_auth_is_only_for_http_tools(tmp_path: Path) -> None:
    tool = {
        **SEARCH_LOGS,
        "kind": "python",
        "handler": "billing.lookup_invoice",
        "openapi": None,
        "auth": {"scheme": "bearer", "secret_env": "TOKEN"},
        "arguments": {},
    }
    with pytest.raises(ConfigFileError, match="takes no `auth`"):
        load_tool_catalog(_config(tmp_path, {"search_logs": tool}))


def test_a_stdio_mcp_server_without_a_command_is_named_with_file_and_field(tmp_path: Path) -> None:
    servers = {"servers": {"itops": {"transport": "stdio", "roles": ["it_operator"]}}}
    with pytest.raises(ConfigFileError) as raised:
        load_tool_catalog(_config(tmp_path, {"search_logs": SEARCH_LOGS}, servers))
    message = str(raised.value)
    assert str(tmp_path / "mcp_servers.yaml") in message, f"file not named: {message}"
    assert "servers.itops.stdio.command" in message, f"field not named: {message}"


def test_an_mcp_tool_whose_schema_cannot_be_an_argument_is_left_out_with_the_reason() -> None:
    server = StdioServer(transport="stdio", command="x", roles=["it_operator"])
    listed = [
        ListedTool(
            name="tag",
            input_schema={"type": "object", "properties": {"tags": {"type": "array"}}},
            read_only=True,
        ),
        ListedTool(
            name="health",
            input_schema={"type": "object", "properties": {"service": {"type": "string"}}},
            read_only=True,
        ),
    ]
    specs, skipped = mcp_tool_specs("ops", server, listed)
    assert list(specs) == ["ops_health"], f"wrong tools kept: {list(specs)}"
    [reason] = skipped
    assert "tags" in reason, f"the reason does not name the argument: {reason}"
    assert "array" in reason, f"the reason does not name the type: {reason}"


def test_an_mcp_tool_not_marked_read_only_needs_a_requirement() -> None:
    server = StdioServer(transport="stdio", command="x", roles=["it_operator"])
    listed = [ListedTool(name="reboot", input_schema={"type": "object", "properties": {}})]
    specs, skipped = mcp_tool_specs("ops", server, listed)
    assert not specs, f"an ungated side effect was listed: {specs}"
    assert "requires" in skipped[0], f"the reason does not say what to declare: {skipped}"


def test_the_kept_mcp_listing_is_what_the_repository_catalog_offers() -> None:
    catalog = load_tool_catalog(CONFIG)
    spec = catalog.spec("itops_create_ticket")
    assert (spec.kind, spec.side_effect, [r.tool for r in spec.requires]) == (
        "mcp",
        True,
        ["itops_search_logs"],
    ), f"itops_create_ticket is not the gated MCP tool mcp_servers.yaml declares: {spec}"
