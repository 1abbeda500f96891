"""The gateway's HTTP API (FastAPI): ask, ask with server-sent events, history, health.

Refusals at the gateway answer a `Problem` (400, 401, 403, 413, 429 with Retry-After,
503); once a request reached the pipeline, `/v1/ask` answers its `AskResponse` with a
status that says how it ended (200 answer or handoff; 504 deadline, 502 internal, ...).
"""

# No `from __future__ import annotations`: FastAPI reads the route signatures, whose
# dependencies are local to `create_app`.
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Path, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.asking import (
    APPROVAL_ID_PATTERN,
    MAX_DECISION_COMMENT_CHARS,
    SESSION_ID_PATTERN,
    Gateway,
    Question,
)
from services.gateway.auth import Caller
from services.gateway.errors import GatewayError, RateLimited, Unauthenticated
from shared.contracts import Envelope, ErrorCode, Response, StreamChunk, Turn

API_VERSION = "1.0.0"
_ERROR_PREFIX = "ERROR_CODE_"
_STATUS_BY_ERROR = {
    ErrorCode.ERROR_CODE_MALFORMED_EVENT: 400,
    ErrorCode.ERROR_CODE_INPUT_REJECTED: 400,
    ErrorCode.ERROR_CODE_INPUT_TOO_LARGE: 413,
    ErrorCode.ERROR_CODE_TOOL_NOT_ALLOWED: 403,
    ErrorCode.ERROR_CODE_UNKNOWN_TENANT: 403,
    ErrorCode.ERROR_CODE_BUDGET_EXHAUSTED: 429,
    ErrorCode.ERROR_CODE_DEPENDENCY_UNAVAILABLE: 503,
    ErrorCode.ERROR_CODE_DEADLINE_EXCEEDED: 504,
}
Outcome = Literal["answer", "error", "handoff", "pending"]
_ACCEPTED = 202
_BAD_GATEWAY = 502  # the pipeline failed on its side: model output, steps, internal


class ProblemDetail(BaseModel):
    code: str = Field(description="bad_request | too_large | unauthenticated | ...")
    message: str


class Problem(BaseModel):
    """A request refused at the gateway, before it reached the pipeline."""

    error: ProblemDetail


# One server-sent event of /v1/ask/stream, as the stream's schema (each event is checked
# against it): `data` holds ChunkBody JSON for `chunk`, AskResponse JSON for `response`.
_SSE_EVENT = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"enum": ["chunk", "response"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
        "id": {"type": "string"},
        "retry": {"type": "integer"},
    },
}


class TurnBody(BaseModel):
    role: Literal["user", "assistant"]
    content: str


class AskBody(BaseModel):
    # The spec states what the gateway enforces (a fuzzer holds it to that): some
    # non-blank text, and a session id of the documented shape.
    text: str = Field(
        min_length=1, pattern=r"\S", description="The question, not blank; its length is limited"
    )
    session_id: str | None = Field(
        default=None,
        pattern=SESSION_ID_PATTERN.pattern,
        description="Omitted: a new conversation",
    )
    history: list[TurnBody] = Field(
        default_factory=list, description="Omitted: the session's stored history"
    )

    def question(self, channel: str) -> Question:
        return Question(
            text=self.text,
            session_id=self.session_id or "",
            history=[Turn(role=t.role, content=t.content) for t in self.history],
            channel=channel,
        )


class AnswerBody(BaseModel):
    text: str
    sources: list[str]
    produced_by: str = Field(
        description="who wrote the answer that passed the output checks: model | regenerated "
        "(the model, after failed checks) | template (the prompt version's own answer)"
    )


class ErrorBody(BaseModel):
    code: str = Field(description="deadline_exceeded | input_rejected | ... (ErrorCode)")
    message: str
    service: str
    step: str


class HandoffBody(BaseModel):
    reason: str
    queue: str
    message: str


class PendingBody(BaseModel):
    """A tool call of the request waits for a person's approval (answered 202); the final
    response follows their decision."""

    approval_id: str
    tool: str
    expires_at_unix_ms: int
    message: str


class AskResponse(BaseModel):
    """The response of a request; exactly one of answer, error, handoff, pending is set."""

    request_id: str
    session_id: str
    tenant_id: str
    user_id: str
    roles: list[str]
    intent: str
    outcome: Outcome
    answer: AnswerBody | None = None
    error: ErrorBody | None = None
    handoff: HandoffBody | None = None
    pending: PendingBody | None = None

    @classmethod
    def of(cls, response: Response) -> "AskResponse":
        envelope = response.envelope
        kind = response.WhichOneof("outcome")
        outcome: Outcome = kind if kind in ("answer", "handoff", "pending") else "error"
        return cls(
            request_id=envelope.request_id,
            session_id=envelope.session_id,
            tenant_id=envelope.tenant_id,
            user_id=envelope.principal.user_id,
            roles=list(envelope.principal.roles),
            intent=response.intent,
            outcome=outcome,
            answer=AnswerBody(
                text=response.answer.text,
                sources=list(response.answer.sources),
                produced_by=response.answer.produced_by,
            )
            if outcome == "answer"
            else None,
            error=ErrorBody(
                code=error_code_name(response.error.code),
                message=response.error.message,
                service=response.error.service,
                step=response.error.step,
            )
            if outcome == "error"
            else None,
            handoff=HandoffBody(
                reason=response.handoff.reason,
                queue=response.handoff.queue,
                message=response.handoff.message,
            )
            if outcome == "handoff"
            else None,
            pending=PendingBody(
                approval_id=response.pending.approval_id,
                tool=response.pending.tool,
                expires_at_unix_ms=response.pending.expires_at_unix_ms,
                message=response.pending.message,
            )
            if outcome == "pending"
            else None,
        )


class DecisionBody(BaseModel):
    decision: Literal["approve", "reject"]
    comment: str = Field(default="", max_length=MAX_DECISION_COMMENT_CHARS)


class ChunkBody(BaseModel):
    """A piece of the answer (provisional: the `response` event is what counts). A new
    `generation_id` voids the text streamed before it."""

    text: str
    seq: int
    generation_id: str
    model: str


class HistoryTurn(BaseModel):
    role: str
    content: str
    request_id: str
    at_unix_ms: int


class History(BaseModel):
    session_id: str
    turns: list[HistoryTurn]


class Status(BaseModel):
    status: str


def error_code_name(code: ErrorCode) -> str:
    """`ERROR_CODE_DEADLINE_EXCEEDED` -> `deadline_exceeded`."""
    return ErrorCode.Name(code).removeprefix(_ERROR_PREFIX).lower()


def http_status(response: Response) -> int:
    if response.HasField("pending"):
        return _ACCEPTED
    if not response.HasField("error"):
        return 200
    return _STATUS_BY_ERROR.get(response.error.code, _BAD_GATEWAY)


def _retry_after(response: Response) -> dict[str, str]:
    """Budgets are per UTC day: an exhausted one is worth retrying tomorrow."""
    if response.error.code != ErrorCode.ERROR_CODE_BUDGET_EXHAUSTED:
        return {}
    now = datetime.now(UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
    return {"Retry-After": str(int((midnight - now).total_seconds()) + 1)}


def _problem(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = Problem(error=ProblemDetail(code=code, message=message))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GatewayError)
    headers = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = exc.retry_after_header
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    return _problem(exc.status, exc.code, str(exc), headers)


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    where = "; ".join(
        f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in exc.errors()
    )
    return _problem(400, "bad_request", where or "invalid request")


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = "too_large" if exc.status_code == 413 else f"http_{exc.status_code}"
    return _problem(exc.status_code, code, str(exc.detail), exc.headers)


def _described(model: Any, descriptions: Mapping[int | str, str]) -> dict[int | str, Any]:
    return {status: {"model": model, "description": text} for status, text in descriptions.items()}


# "4XX" covers the rest (404, 405, ...), and keeps FastAPI from documenting a 422 it never sends.
_PROBLEMS = _described(
    Problem,
    {
        400: "Malformed request",
        401: "No or invalid credentials",
        403: "A disabled key",
        413: "Body or text over its limit",
        429: "Over the rate or concurrency limit (Retry-After says when to retry)",
        503: "Not connected to the bus yet",
        "4XX": "Any other refusal",
    },
)
_ENDED = _described(
    Problem | AskResponse,
    {
        400: "Malformed request, or rejected by the input guardrail",
        403: "A disabled key, or the tenant or a tool not allowed",
        413: "Body or text over its limit",
        429: "Over a rate, concurrency (Retry-After) or daily budget limit",
        503: "Not connected to the bus yet, or a dependency of the pipeline is down",
    },
) | _described(
    AskResponse,
    {
        202: "A tool call awaits a person's approval (`pending`); the answer follows later",
        502: "The pipeline failed",
        504: "No answer within the deadline",
    },
)


class BodySizeLimit:
    """413 for a request body over `max_bytes`: at once when its Content-Length says so,
    else as soon as the body read so far passes it (a chunked body has no length)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"the request body is over {self.max_bytes} bytes"
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await _problem(413, "too_large", too_large)(scope, receive, send)
            return
        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise HTTPException(413, too_large)  # FastAPI lets it through to `_http_error`
            return message

        await self.app(scope, receive_limited, send)


def create_app(gateway: Gateway) -> FastAPI:
    """The HTTP API around `gateway`; serve it with uvicorn. Example:

    >>> uvicorn.Server(uvicorn.Config(create_app(gateway), port=8080))  # doctest: +SKIP
    """
    app = FastAPI(
        title="conduit gateway",
        version=API_VERSION,
        description="Ask conduit: answers, streamed answers, conversation history.",
        exception_handlers={
            GatewayError: _refused,
            RequestValidationError: _invalid,
            HTTPException: _http_error,
        },
    )
    app.add_middleware(BodySizeLimit, max_bytes=gateway.settings.max_body_bytes)
    bearer = HTTPBearer(auto_error=False, description="An API key or a signed JWT")

    def caller(
        request: Request,
        _: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    ) -> Caller:
        return gateway.authenticator.caller(request.headers.get("authorization"))

    Authenticated = Annotated[Caller, Security(caller)]

    @app.post(
        "/v1/ask",
        response_model=AskResponse,
        responses={**_PROBLEMS, **_ENDED},
        summary="Ask one question, wait for the terminal response",
    )
    async def ask(body: AskBody, who: Authenticated) -> JSONResponse:
        response = await gateway.ask(who, body.question("http"))
        return JSONResponse(
            AskResponse.of(response).model_dump(),
            status_code=http_status(response),
            headers=_retry_after(response),
        )

    @app.post(
        "/v1/ask/stream",
        response_class=EventSourceResponse,
        responses={
            **_PROBLEMS,
            200: {
                "description": "`chunk` events (ChunkBody JSON) as the answer is written, then"
                " one `response` event (AskResponse JSON), always last",
                "content": {"text/event-stream": {"schema": _SSE_EVENT}},
            },
        },
        summary="Ask one question; the answer as server-sent events",
    )
    async def ask_stream(body: AskBody, who: Authenticated) -> EventSourceResponse:
        events = gateway.ask_streaming(who, body.question("http-sse"))
        envelope = await anext(events)  # refusals raise here, before the stream starts
        assert isinstance(envelope, Envelope)
        return EventSourceResponse(
            _server_sent(events),
            headers={"X-Request-Id": envelope.request_id, "X-Session-Id": envelope.session_id},
            background=BackgroundTask(events.aclose),
        )

    @app.post(
        "/v1/approvals/{approval_id}",
        status_code=202,
        response_model=Status,
        responses={k: _PROBLEMS[k] for k in (400, 401, 403, "4XX")},
        summary="Approve or reject a tool call waiting for a person, as the caller (the"
        " approvals desk counts it only for the tool's approver roles)",
    )
    async def decide(
        approval_id: Annotated[str, Path(pattern=APPROVAL_ID_PATTERN.pattern)],
        body: DecisionBody,
        who: Authenticated,
    ) -> Status:
        await gateway.decide(who, approval_id, body.decision, body.comment)
        return Status(status="submitted")

    @app.get(
        "/v1/sessions/{session_id}/history",
        response_model=History,
        responses={k: _PROBLEMS[k] for k in (400, 401, 403, "4XX")},
        summary="The conversation so far (of the caller's tenant)",
    )
    async def history(
        session_id: Annotated[str, Path(pattern=SESSION_ID_PATTERN.pattern)], who: Authenticated
    ) -> History:
        turns = await gateway.session_history(who, session_id)
        return History(
            session_id=session_id,
            turns=[
                HistoryTurn(
                    role=t.role, content=t.content, request_id=t.request_id, at_unix_ms=t.at_unix_ms
                )
                for t in turns
            ],
        )

    @app.get("/healthz", response_model=Status, summary="The process is up")
    async def healthz() -> Status:
        return Status(status="ok")

    @app.get(
        "/readyz",
        response_model=Status,
        responses={503: {"model": Status, "description": "Not connected to the bus yet"}},
        summary="Connected to the bus and listening for answers",
    )
    async def readyz() -> JSONResponse:
        ready = gateway.ready
        return JSONResponse(
            Status(status="ready" if ready else "starting").model_dump(),
            status_code=200 if ready else 503,
        )

    return app


async def _server_sent(
    events: AsyncIterator[Envelope | StreamChunk | Response],
) -> AsyncIterator[ServerSentEvent]:
    async for piece in events:
        if isinstance(piece, StreamChunk):
            chunk = ChunkBody(
                text=piece.text, seq=piece.seq, generation_id=piece.generation_id, model=piece.model
            )
            yield ServerSentEvent(event="chunk", data=chunk.model_dump_json())
        elif isinstance(piece, Response):
            yield ServerSentEvent(event="response", data=AskResponse.of(piece).model_dump_json())
