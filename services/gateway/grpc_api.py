"""The gateway's gRPC API (`conduit.v1.Gateway`, grpc.aio): unary and server-streaming ask,
and decisions on tool calls waiting for a person.

Credentials come as metadata `authorization: Bearer <key or JWT>`. Refusals end the call
with a status: UNAUTHENTICATED, PERMISSION_DENIED, INVALID_ARGUMENT, UNAVAILABLE, or
RESOURCE_EXHAUSTED with trailing metadata `retry-after` (seconds). Once a request reached
the pipeline, its `Response` is the result, whatever its outcome.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any, NoReturn

import grpc  # type: ignore[import-untyped]

from services.gateway.asking import Gateway, Question
from services.gateway.errors import BadRequest, GatewayError, RateLimited
from shared.contracts import (
    AskEvent,
    AskRequest,
    DecideReply,
    DecideRequest,
    Envelope,
    Response,
    StreamChunk,
)
from shared.contracts.rpc import GatewayServicer, add_GatewayServicer_to_server
from shared.runtime.approvals import Verb

VERBS: tuple[Verb, ...] = ("approve", "reject")


class GatewayRpc(GatewayServicer):
    """Serves `gateway` over gRPC. Example: `grpc_server(gateway, "0.0.0.0:50051")`."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    async def Ask(self, request: AskRequest, context: Any) -> Response:
        try:
            caller = self._gateway.authenticator.caller(_authorization(context))
            return await self._gateway.ask(caller, _question(request))
        except GatewayError as exc:
            await _abort(context, exc)

    async def AskStream(self, request: AskRequest, context: Any) -> AsyncIterator[AskEvent]:
        try:
            caller = self._gateway.authenticator.caller(_authorization(context))
            async with aclosing(self._gateway.ask_streaming(caller, _question(request))) as events:
                async for piece in events:
                    if isinstance(piece, Envelope):
                        await context.send_initial_metadata(
                            (("x-request-id", piece.request_id), ("x-session-id", piece.session_id))
                        )
                    elif isinstance(piece, StreamChunk):
                        yield AskEvent(chunk=piece)
                    else:
                        yield AskEvent(response=piece)
        except GatewayError as exc:
            await _abort(context, exc)

    async def Decide(self, request: DecideRequest, context: Any) -> DecideReply:
        try:
            caller = self._gateway.authenticator.caller(_authorization(context))
            verb = next((v for v in VERBS if v == request.decision), None)
            if verb is None:
                raise BadRequest(f"decision must be one of {VERBS}: {request.decision!r}")
            await self._gateway.decide(caller, request.approval_id, verb, request.comment)
            return DecideReply(status="submitted")
        except GatewayError as exc:
            await _abort(context, exc)


def grpc_server(gateway: Gateway, address: str) -> tuple[Any, int]:
    """A `grpc.aio.Server` serving `gateway` on `address` (port 0: any free one), not yet
    started; and the port it is bound to. Messages over the body limit are refused."""
    limit = gateway.settings.max_body_bytes
    server = grpc.aio.server(
        options=[("grpc.max_receive_message_length", limit)],
    )
    add_GatewayServicer_to_server(GatewayRpc(gateway), server)
    port: int = server.add_insecure_port(address)
    return server, port


def _authorization(context: Any) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            return str(value)
    return None


def _question(request: AskRequest) -> Question:
    return Question(
        text=request.text,
        session_id=request.session_id,
        history=list(request.history),
        channel="grpc",
    )


async def _abort(context: Any, error: GatewayError) -> NoReturn:
    trailing = (
        (("retry-after", error.retry_after_header),) if isinstance(error, RateLimited) else ()
    )
    await context.abort(grpc.StatusCode[error.grpc_code], str(error), trailing_metadata=trailing)
    raise AssertionError("unreachable: grpc's abort raises")
