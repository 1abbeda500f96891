"""The gateway process in front of the six services over the real Kafka broker: HTTP and
gRPC asks, streaming, credentials, limits and history (scripted stand-in model)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc  # type: ignore[import-untyped]
import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from conduit.stack import ServiceProcesses
from shared.contracts import AskEvent, AskRequest, Response
from tests.e2e.conftest import (
    DISABLED_KEY,
    JWT_SECRET,
    MAX_BODY_BYTES,
    REFUND_MESSAGE,
    TIGHT_KEY,
    GatewayProcess,
    describe,
)
from tests.fixtures.streams import assert_streamed_as_answered

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.timeout(300)]

STREAMED_QUESTION = "How long is the warranty and what does it cover?"


async def server_sent_events(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    """(event, data) pairs of an SSE body; comments (pings) are skipped."""
    events, name, data = [], "message", ""
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            name = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data += line.removeprefix("data:").strip()
        elif not line and data:
            events.append((name, json.loads(data)))
            name, data = "message", ""
    return events


async def test_an_http_ask_answers_the_refund_with_the_keys_tenant_in_the_envelope(
    gateway: GatewayProcess, stack: ServiceProcesses
) -> None:
    reply = await gateway.http.post(
        "/v1/ask",
        json={"text": REFUND_MESSAGE, "session_id": "gw-refund", "tenant_id": "globex"},
        headers=gateway.auth(),
    )

    body = reply.json()
    assert reply.status_code == 200, f"{reply.status_code} {body}\n{describe(stack)}"
    assert body["outcome"] == "answer", body
    assert body["answer"]["text"], body
    assert body["intent"] == "refund", body
    assert (body["tenant_id"], body["user_id"]) == ("default", "demo-user"), (
        f"the envelope must carry the key's tenant and user, not the body's: {body}"
    )
    assert body["roles"] == ["customer"], body


async def test_a_signed_jwt_is_accepted_and_its_subject_travels_as_the_user(
    gateway: GatewayProcess, stack: ServiceProcesses
) -> None:
    claims = {
        "sub": "jwt-user-1",
        "tenant": "default",
        "roles": ["customer"],
        "aud": "conduit",
        "exp": int(time.time()) + 300,
    }
    token = jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(JWT_SECRET))

    reply = await gateway.http.post(
        "/v1/ask",
        json={"text": "Where is my order ORD-5001?"},
        headers={"authorization": f"Bearer {token}"},
    )

    body = reply.json()
    assert reply.status_code == 200, f"{reply.status_code} {body}\n{describe(stack)}"
    assert (body["tenant_id"], body["user_id"]) == ("default", "jwt-user-1"), body


async def test_sse_streams_chunk_events_then_one_response_event_last(
    gateway: GatewayProcess, stack: ServiceProcesses
) -> None:
    async with gateway.http.stream(
        "POST", "/v1/ask/stream", json={"text": STREAMED_QUESTION}, headers=gateway.auth()
    ) as reply:
        assert reply.status_code == 200, await reply.aread()
        assert reply.headers["content-type"].startswith("text/event-stream"), reply.headers
        events = await server_sent_events(reply)

    names = [name for name, _ in events]
    assert "chunk" in names, f"the answer did not stream: {names}\n{describe(stack)}"
    assert names[-1] == "response", f"the stream did not end with the response: {names}"
    assert names.count("response") == 1, names
    final = events[-1][1]
    assert final["outcome"] == "answer", final
    assert_streamed_as_answered(
        ((data["generation_id"], data["seq"], data["text"]) for name, data in events[:-1]),
        final["answer"]["text"],
    )
    assert final["request_id"] == reply.headers["x-request-id"], reply.headers


async def test_grpc_unary_ask_answers_with_the_tenant_of_the_key(
    gateway: GatewayProcess, stack: ServiceProcesses
) -> None:
    response: Response = await gateway.grpc.Ask(
        AskRequest(text=REFUND_MESSAGE, session_id="gw-grpc"), metadata=gateway.grpc_auth()
    )

    assert response.HasField("answer"), f"no answer: {response}\n{describe(stack)}"
    assert response.envelope.tenant_id == "default", response.envelope
    assert response.envelope.principal.user_id == "demo-user", response.envelope


async def test_grpc_streaming_ask_streams_chunks_then_the_response_last(
    gateway: GatewayProcess, stack: ServiceProcesses
) -> None:
    call = gateway.grpc.AskStream(AskRequest(text=STREAMED_QUESTION), metadata=gateway.grpc_auth())
    events: list[AskEvent] = [event async for event in call]

    kinds = [event.WhichOneof("event") for event in events]
    assert "chunk" in kinds, f"the answer did not stream: {kinds}\n{describe(stack)}"
    assert kinds[-1] == "response", f"the stream did not end with the response: {kinds}"
    assert kinds.count("response") == 1, kinds
    assert_streamed_as_answered(
        ((e.chunk.generation_id, e.chunk.seq, e.chunk.text) for e in events[:-1]),
        events[-1].response.answer.text,
    )


async def test_missing_or_unknown_credentials_are_401_and_a_disabled_key_403(
    gateway: GatewayProcess,
) -> None:
    ask = {"text": "Where is my order ORD-5001?"}

    missing = await gateway.http.post("/v1/ask", json=ask)
    unknown = await gateway.http.post("/v1/ask", json=ask, headers=gateway.auth("no-such-key"))
    disabled = await gateway.http.post("/v1/ask", json=ask, headers=gateway.auth(DISABLED_KEY))
    with pytest.raises(grpc.aio.AioRpcError) as grpc_refusal:
        await gateway.grpc.Ask(AskRequest(text=ask["text"]), metadata=gateway.grpc_auth("nope"))

    assert (missing.status_code, unknown.status_code) == (401, 401), (missing.text, unknown.text)
    assert missing.headers["www-authenticate"] == "Bearer", missing.headers
    assert disabled.status_code == 403, disabled.text
    assert grpc_refusal.value.code() == grpc.StatusCode.UNAUTHENTICATED, grpc_refusal.value


async def test_over_the_rate_limit_is_429_with_retry_after_on_http_and_grpc(
    gateway: GatewayProcess,
) -> None:
    ask = {"text": "Where is my order ORD-5001?"}

    first = await gateway.http.post("/v1/ask", json=ask, headers=gateway.auth(TIGHT_KEY))
    second = await gateway.http.post("/v1/ask", json=ask, headers=gateway.auth(TIGHT_KEY))
    with pytest.raises(grpc.aio.AioRpcError) as grpc_refusal:
        await gateway.grpc.Ask(AskRequest(text=ask["text"]), metadata=gateway.grpc_auth(TIGHT_KEY))

    assert first.status_code == 200, f"the first ask fits the burst: {first.text}"
    assert second.status_code == 429, second.text
    assert 1 <= int(second.headers["retry-after"]) <= 100, second.headers
    assert grpc_refusal.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, grpc_refusal.value
    trailing = dict(grpc_refusal.value.trailing_metadata() or ())
    assert int(trailing["retry-after"]) >= 1, trailing


async def test_an_oversize_body_is_413_with_or_without_a_content_length(
    gateway: GatewayProcess,
) -> None:
    body = json.dumps({"text": "x" * (MAX_BODY_BYTES + 1)}).encode()

    async def chunked() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    declared = await gateway.http.post("/v1/ask", content=body, headers=gateway.auth())
    streamed = await gateway.http.post("/v1/ask", content=chunked(), headers=gateway.auth())

    assert declared.status_code == 413, declared.text
    assert streamed.status_code == 413, f"a chunked body escaped the limit: {streamed.text}"
    assert "transfer-encoding" not in declared.request.headers
    assert streamed.request.headers["transfer-encoding"] == "chunked", streamed.request.headers


async def test_history_grows_across_two_asks_in_one_session(
    gateway: GatewayProcess, stack: ServiceProcesses
) -> None:
    session = "gw-history"
    lengths = []
    for text in (STREAMED_QUESTION, REFUND_MESSAGE):
        reply = await gateway.http.post(
            "/v1/ask", json={"text": text, "session_id": session}, headers=gateway.auth()
        )
        assert reply.status_code == 200, f"{reply.text}\n{describe(stack)}"
        history = await gateway.http.get(f"/v1/sessions/{session}/history", headers=gateway.auth())
        lengths.append(len(history.json()["turns"]))

    turns = history.json()["turns"]
    assert lengths == [2, 4], f"each answered ask adds a user and an assistant turn: {lengths}"
    assert [t["role"] for t in turns] == ["user", "assistant"] * 2, turns
    assert turns[2]["content"] == REFUND_MESSAGE, turns
