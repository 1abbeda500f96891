"""The committed MCP listing (config/mcp_tools.yaml) is what the shipped servers list now:
the prompt-builder offers tools from that file, so a server change without `make mcp-tools`
would offer the model tools, arguments or answers that no longer exist."""

from __future__ import annotations

from services.tool_executor.mcp_listing import list_servers
from shared.config import repo_root
from shared.tools.mcp import load_mcp_listing


async def test_the_committed_listing_matches_what_the_servers_list() -> None:
    config = repo_root() / "config"
    committed = load_mcp_listing(config).model_dump(mode="json")
    listed = (await list_servers(config, repo_root())).model_dump(mode="json")
    assert committed.keys() == listed.keys()
    for server, tools in listed["servers"].items():
        now = {tool["name"]: tool for tool in tools}
        kept = {tool["name"]: tool for tool in committed["servers"].get(server, [])}
        stale = sorted(name for name in now.keys() | kept.keys() if now.get(name) != kept.get(name))
        assert not stale, (
            f"config/mcp_tools.yaml is stale for server {server!r}, tools {stale}: "
            "run `make mcp-tools` and commit the file"
        )
