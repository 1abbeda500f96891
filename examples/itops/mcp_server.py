"""The IT-ops tools as an MCP server (mcp 2.x `MCPServer`), over stdio or streamable HTTP.

Run: `python -m examples.itops.mcp_server` (stdio) or
`python -m examples.itops.mcp_server --http --port 8711` (streamable HTTP at `/mcp`).
With `ITOPS_FAULTS=1` it also lists tools that fail, hang, answer too much or break their
own output schema, for tests.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, TextContent, ToolAnnotations

from examples.itops import data

FAULTS_ENV = "ITOPS_FAULTS"
READ_ONLY = ToolAnnotations(read_only_hint=True)
HEALTH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"service": {"type": "string"}, "status": {"type": "string"}},
    "required": ["service", "status"],
}


def create_server(*, faults: bool = False) -> MCPServer:
    server = MCPServer("itops", tools=[_drifted_health()] if faults else None)
    tickets: dict[str, dict[str, Any]] = {}

    @server.tool(annotations=READ_ONLY)
    def search_logs(service: str, since_minutes: int = 60) -> dict[str, Any]:
        """Search a service's recent log lines (checkout, payments or search)."""
        return {"service": service, "entries": data.recent_logs(service, since_minutes)}

    @server.tool(annotations=READ_ONLY)
    def recent_deploys(service: str) -> dict[str, Any]:
        """The service's recent deploys, newest first."""
        return {"service": service, "deploys": data.recent_deploys(service)}

    @server.tool(annotations=READ_ONLY)
    def service_health(service: str) -> dict[str, Any]:
        """Whether a service is healthy, from its errors of the last 15 minutes."""
        return data.health(service)

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, idempotent_hint=True))
    def create_ticket(service: str, title: str, severity: str, request_key: str) -> dict[str, Any]:
        """Open an incident ticket; a repeat with the same request_key returns the first."""
        if request_key not in tickets:
            tickets[request_key] = {
                "ticket_id": f"INC-{4100 + len(tickets)}",
                "service": service,
                "title": title,
                "severity": severity,
            }
        return tickets[request_key]

    if faults:
        _add_fault_tools(server)
    return server


def _add_fault_tools(server: MCPServer) -> None:
    @server.tool(annotations=READ_ONLY)
    def failing_check(service: str) -> dict[str, Any]:
        """Always fails, as a broken backend would."""
        raise ToolError(f"monitoring backend for {service} is unreachable")

    @server.tool(annotations=READ_ONLY)
    async def slow_check(seconds: float) -> dict[str, Any]:
        """Answers after `seconds`."""
        await asyncio.sleep(seconds)
        return {"slept": seconds}

    @server.tool(annotations=READ_ONLY)
    def big_report(kilobytes: int) -> dict[str, Any]:
        """An answer of about `kilobytes` KiB."""
        return {"blob": "x" * kilobytes * 1024}


def _drifted_health() -> Tool:
    """A tool whose answers no longer match the output schema it lists, as a server's would
    after its code changed and its listing did not. The SDK checks a tool's answers against
    the model it derives from the return type; a schema set by hand is listed unchecked."""

    def drifted_health(service: str) -> CallToolResult:
        """Whether a service is healthy (its status comes back as an HTTP code)."""
        answer = {"service": service, "status": 503}
        return CallToolResult(
            content=[TextContent(text=f"{service}: 503")], structured_content=answer
        )

    tool = Tool.from_function(drifted_health, annotations=READ_ONLY)
    tool.fn_metadata.output_schema = HEALTH_SCHEMA
    return tool


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--http", action="store_true", help="streamable HTTP instead of stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8711)
    options = parser.parse_args()
    server = create_server(faults=os.environ.get(FAULTS_ENV) == "1")
    if options.http:
        server.run("streamable-http", host=options.host, port=options.port)
    else:
        server.run("stdio")


if __name__ == "__main__":
    main()
