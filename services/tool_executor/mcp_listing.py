"""Writes the tools each MCP server of `mcp_servers.yaml` lists into `mcp_tools.yaml`.

Run: `python -m services.tool_executor.mcp_listing [config_dir]` (`make mcp-tools`). The
file is what processes other than the tool-executor know of MCP tools; commit it with the
server change that alters it.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import yaml

from services.tool_executor.mcp_tools import McpTools
from shared.tools.mcp import MCP_TOOLS_FILE, McpListing, load_mcp_servers

HEADER = (
    "# Written by `make mcp-tools` from the servers of mcp_servers.yaml: the tools they list,\n"
    "# for the services that do not connect to them (the prompt-builder). Do not edit.\n"
)


async def list_servers(config_dir: Path, checkout: Path) -> McpListing:
    """What each declared server lists; `SystemExit` when one lists nothing."""
    servers = load_mcp_servers(config_dir)
    tools = McpTools(servers, checkout=checkout)
    try:
        listing = McpListing(servers=await tools.list_all())
    finally:
        await tools.close()
    missing = sorted(set(servers) - set(listing.servers))
    if missing:
        raise SystemExit(f"MCP servers {missing} listed nothing (see the log above)")
    return listing


def main() -> None:
    config_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("config")
    listing = asyncio.run(list_servers(config_dir, config_dir.resolve().parent))
    text = yaml.safe_dump(listing.model_dump(mode="json"), sort_keys=False, width=100)
    (config_dir / MCP_TOOLS_FILE).write_text(HEADER + text, encoding="utf-8")
    counts = ", ".join(f"{name}: {len(tools)}" for name, tools in listing.servers.items())
    print(f"wrote {config_dir / MCP_TOOLS_FILE} ({counts or 'no servers'})")


if __name__ == "__main__":
    main()
