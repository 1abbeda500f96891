"""Calling `mcp` tools: one MCP session per server for the process, reconnected on failure.

Each session lives in its own task (MCP's transports are anyio task groups, which must be
entered and left by the same task); calls from any task share it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import mcp.types as mcp_types
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from services.tool_executor.business import JsonObject, ToolFailure
from services.tool_executor.remote import (
    TOOL_ERROR,
    TOOL_RESULT_INVALID,
    TOOL_UNAVAILABLE,
    TransientToolFailure,
    call_remote,
    check_result,
    parse_json,
)
from shared.tools import ToolSpec
from shared.tools.mcp import ListedTool, StdioServer, StreamableHttpServer

log = logging.getLogger(__name__)

McpServerSpec = StdioServer | StreamableHttpServer


class McpConnection:
    """The session with one server. Example: `session = await connection.session()`."""

    def __init__(self, name: str, server: McpServerSpec, *, checkout: Path) -> None:
        self.name = name
        self._server = server
        self._checkout = checkout
        self._session: ClientSession | None = None
        self._holder: asyncio.Task[None] | None = None
        self._release = asyncio.Event()
        self._lock = asyncio.Lock()

    async def session(self) -> ClientSession:
        """The open session, connecting first when there is none (or it broke)."""
        async with self._lock:
            if self._session is None or self._holder is None or self._holder.done():
                await self._connect()
            assert self._session is not None
            return self._session

    async def list_tools(self) -> list[ListedTool]:
        session = await self.session()
        listed: list[ListedTool] = []
        cursor: str | None = None
        while True:
            params = None if cursor is None else mcp_types.PaginatedRequestParams(cursor=cursor)
            page = await session.list_tools(params=params)
            listed.extend(_listed(tool) for tool in page.tools)
            cursor = page.next_cursor
            if cursor is None:
                return listed

    async def close(self) -> None:
        holder, self._holder, self._session = self._holder, None, None
        if holder is None:
            return
        self._release.set()
        try:
            await asyncio.wait_for(holder, timeout=5.0)
        except (TimeoutError, Exception):  # a broken transport may end either way
            holder.cancel()

    async def _connect(self) -> None:
        await self.close()
        self._release = asyncio.Event()
        ready: asyncio.Future[ClientSession] = asyncio.get_running_loop().create_future()
        self._holder = asyncio.create_task(self._hold(ready, self._release))
        try:
            async with asyncio.timeout(self._server.connect_timeout_s):
                self._session = await asyncio.shield(ready)
        except BaseException as exc:
            await self.close()
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise TransientToolFailure(
                TOOL_UNAVAILABLE, f"MCP server {self.name} is unavailable: {_reason(exc)}"
            ) from exc

    async def _hold(self, ready: asyncio.Future[ClientSession], release: asyncio.Event) -> None:
        try:
            async with AsyncExitStack() as stack:
                read, write = await stack.enter_async_context(self._transport())
                session = await stack.enter_async_context(_UncheckedSession(read, write))
                await session.initialize()
                ready.set_result(session)
                await release.wait()
        except BaseException as exc:  # handed to the waiting caller, or logged
            if not ready.done():
                ready.set_exception(
                    exc if isinstance(exc, Exception) else ConnectionError(str(exc))
                )
            else:
                log.warning("MCP server %s: session ended: %s", self.name, _reason(exc))
            if isinstance(exc, asyncio.CancelledError):
                raise

    @asynccontextmanager
    async def _transport(self) -> AsyncIterator[tuple[Any, Any]]:
        server = self._server
        if isinstance(server, StreamableHttpServer):
            async with streamable_http_client(server.url) as (read, write):
                yield read, write
            return
        cwd = self._checkout / server.cwd if server.cwd else self._checkout
        command = sys.executable if server.command == "python" else server.command
        parameters = StdioServerParameters(
            command=command, args=server.args, env=server.env or None, cwd=cwd
        )
        async with stdio_client(parameters) as (read, write):
            yield read, write


class McpTools:
    """Every declared server's connection. Example: `await tools.call(spec, {"service": "x"})`."""

    def __init__(self, servers: Mapping[str, McpServerSpec], *, checkout: Path) -> None:
        self._connections = {
            name: McpConnection(name, server, checkout=checkout) for name, server in servers.items()
        }

    async def list_all(self) -> dict[str, list[ListedTool]]:
        """What each server lists now; a server that cannot be reached is logged and left out."""
        names = list(self._connections)
        results = await asyncio.gather(
            *(self._connections[name].list_tools() for name in names), return_exceptions=True
        )
        listing: dict[str, list[ListedTool]] = {}
        for name, result in zip(names, results, strict=True):
            if isinstance(result, BaseException):
                log.error("MCP server %s: tools not listed: %s", name, _reason(result))
            else:
                listing[name] = result
        return listing

    async def call(self, spec: ToolSpec, arguments: dict[str, Any]) -> JsonObject:
        if spec.mcp is None or spec.mcp.server not in self._connections:
            raise ToolFailure(TOOL_UNAVAILABLE, f"{spec.name}: its MCP server is not declared")
        connection = self._connections[spec.mcp.server]
        tool = spec.mcp.tool
        present = {name: value for name, value in arguments.items() if value is not None}
        return await call_remote(spec, lambda: self._attempt(spec, connection, tool, present))

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self._connections.values()))

    async def _attempt(
        self, spec: ToolSpec, connection: McpConnection, tool: str, arguments: dict[str, Any]
    ) -> Any:
        session = await connection.session()
        try:
            result = await session.call_tool(tool, arguments)
        except (TimeoutError, asyncio.CancelledError):
            raise
        except Exception as exc:
            # The session may be broken (the server died): the next attempt reconnects.
            with contextlib.suppress(Exception):
                await connection.close()
            raise TransientToolFailure(
                TOOL_UNAVAILABLE, f"{spec.name}: MCP call failed: {_reason(exc)}"
            ) from exc
        text = "\n".join(
            block.text for block in result.content if isinstance(block, mcp_types.TextContent)
        )
        if result.is_error:
            raise ToolFailure(TOOL_ERROR, f"{spec.name} failed: {text[:500]}")
        declared = spec.mcp.output_schema if spec.mcp is not None else None
        if declared is not None:
            if result.structured_content is None:
                # The MCP spec: a tool with an output schema must return structured content.
                raise ToolFailure(
                    TOOL_RESULT_INVALID,
                    f"{spec.name} declares an output schema but returned no structured content",
                )
            check_result(spec, result.structured_content, declared, "its output schema")
        if result.structured_content is not None:
            return result.structured_content
        if not text:
            raise ToolFailure(TOOL_RESULT_INVALID, f"{spec.name} returned no text or JSON")
        return parse_json(spec, text)


class _UncheckedSession(ClientSession):
    """A session that leaves results to the tool-executor to check.

    The SDK checks `structuredContent` against the schema of its own last listing (listing
    again when it has none) and raises a bare `RuntimeError`, which would read as a broken
    session: retried, and reported `TOOL_UNAVAILABLE`. The tool-executor checks against the
    schema its catalog holds, failing `TOOL_RESULT_INVALID` without retrying.
    """

    async def validate_tool_result(self, name: str, result: mcp_types.CallToolResult) -> None:
        return None


def _listed(tool: mcp_types.Tool) -> ListedTool:
    annotations = tool.annotations
    return ListedTool(
        name=tool.name,
        description=tool.description or "",
        input_schema=dict(tool.input_schema),
        read_only=bool(annotations and annotations.read_only_hint),
        idempotent=bool(annotations and annotations.idempotent_hint),
        output_schema=None if tool.output_schema is None else dict(tool.output_schema),
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_reason(inner) for inner in exc.exceptions)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
