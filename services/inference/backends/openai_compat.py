"""A ModelBackend over an OpenAI-compatible ``/chat/completions`` API (vLLM, llama.cpp, Ollama).

What llama-cpp-python's server (``python -m llama_cpp.server`` 0.3.36, the one the integration
tests run) actually does, and how this backend copes:

- JSON schemas: it enforces ``{"type": "json_object", "schema": ...}`` (a grammar built from
  the schema) and answers the OpenAI form ``{"type": "json_schema", ...}`` with a 500. Hence
  ``schema_format``. It also quietly falls back to "any JSON" for a schema its converter
  cannot handle, so every schema-constrained output is validated here (``BackendRejected``
  when the server did not hold it to the schema).
- Usage: the streamed chunks carry none (``stream_options.include_usage`` is ignored). A
  stream without usage fails with ``BackendUnavailable("... no usage reported ...")`` unless
  a ``usage_counter`` with the served model's tokenizer is given; counts from it are logged
  as such once.
- Context overflow: unstreamed, a 400 ``context_length_exceeded``. Streamed, the same request
  gets a 200 whose stream ends with no event at all; the backend then asks once more,
  unstreamed and one token long, to learn whether the server refuses the request itself.
  A prompt that fits but leaves less room than ``max_tokens`` is cut short by the server
  (``finish_reason == "length"``) rather than refused.
- Invalid parameters: pydantic errors come back as 500s, so parameters are checked here
  before sending (``BackendRejected``).

Tools are not passed: ``GenerationRequest`` carries none (tool choice is a JSON schema, tool
results are user turns), and a ``"tool"`` turn, which needs a tool call id, is rejected.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import httpx
from jsonschema import SchemaError, ValidationError
from jsonschema.validators import validator_for

from services.inference.backends.base import (
    BackendRejected,
    BackendUnavailable,
    DeltaSink,
    Generation,
    GenerationRequest,
)
from shared.models.chat import ChatMessage

__all__ = ["OpenAICompatibleBackend", "SchemaFormat", "TokenCounter"]

log = logging.getLogger(__name__)

SchemaFormat = Literal["json_schema", "json_object"]
MAX_TEMPERATURE = 2.0  # the OpenAI API's range is [0, 2]
_DONE = "[DONE]"
_FINISH_REASONS = frozenset({"stop", "length"})
_CHAT_ROLES = frozenset({"system", "user", "assistant"})
_CREDENTIAL_ERRORS = frozenset({401, 403})
_TRY_LATER_ERRORS = frozenset({408, 429})  # client errors that say "not now" rather than "never"
_ERROR_TEXT_LIMIT = 500
_ONE_CONNECTION = httpx.Limits(max_connections=1, max_keepalive_connections=0)


class TokenCounter(Protocol):
    """Counts tokens the way the served model does, e.g. ``GgufTokenizer`` for SmolLM2."""

    def count(self, text: str) -> int:
        """Tokens of generated ``text``."""
        ...

    def count_chat(self, messages: Sequence[ChatMessage]) -> int:
        """Tokens of the prompt the chat template renders from ``messages``."""
        ...


@dataclass(frozen=True)
class _Reply:
    """The server's answer before token accounting and checks."""

    text: str
    finish_reason: Any
    model: Any
    usage: Any


@dataclass
class _StreamState:
    """What a stream has delivered so far."""

    pieces: list[str] = field(default_factory=list)
    finish_reason: Any = None
    model: Any = None
    usage: Any = None
    opened: bool = False  # the server answered 200 and the events began
    events: int = 0
    done: bool = False


class OpenAICompatibleBackend:
    """Completes chats on an OpenAI-compatible server, streaming deltas over SSE when asked.

    One ``httpx.AsyncClient`` (a pool of at most ``max_connections`` keep-alive
    connections) is opened lazily in the running event loop and serves every request until
    ``close()``. ``timeout_s`` bounds a whole call, connect to last byte (a slow
    ``on_delta`` counts too). ``api_key`` goes out as ``Authorization: Bearer`` and
    nowhere else.

    Failures: refused connections, timeouts, 5xx, 408/429, malformed JSON or SSE, error
    events and streams that end without ``[DONE]`` raise ``BackendUnavailable``; other 4xx
    (context overflow, invalid parameters, unknown model) raise ``BackendRejected`` with
    the server's message, 401/403 as "credentials refused". Parameters are checked before
    anything is sent. When a call times out unstreamed, llama.cpp-based servers keep
    generating until ``max_tokens``; streamed, they stop at the next token.

    ``schema_format`` is how ``GenerationRequest.json_schema`` is sent: ``"json_schema"``
    (OpenAI, vLLM, llama.cpp's ``llama-server``, Ollama) or ``"json_object"`` with a
    ``schema`` key (llama-cpp-python's server, which enforces only that form).

    Example::

        backend = OpenAICompatibleBackend(
            "http://127.0.0.1:8000/v1", "smollm2",
            schema_format="json_object", usage_counter=GgufTokenizer(),
        )
        request = GenerationRequest(
            messages=[ChatMessage(role="user", content="Say hi")], max_tokens=16
        )
        generation = await backend.generate(request, on_delta=send_to_user)
        await backend.close()
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        name: str | None = None,
        schema_format: SchemaFormat = "json_schema",
        usage_counter: TokenCounter | None = None,
        max_connections: int = 16,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        self.name = name if name is not None else model
        self.model = model
        self._base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key is not None else {}
        self._timeout_s = timeout_s
        self._schema_format = schema_format
        self._usage_counter = usage_counter
        self._limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._local_counting_logged = False

    def warm_up(self) -> None:
        """Nothing to load: the connection pool opens in the running loop on first use."""

    async def close(self) -> None:
        """Close the connection pool; a later ``generate`` opens a new one."""
        client, self._client, self._client_loop = self._client, None, None
        if client is not None:
            await client.aclose()

    async def generate(
        self, request: GenerationRequest, on_delta: DeltaSink | None = None
    ) -> Generation:
        """Complete ``request.messages``, streamed to ``on_delta`` when given."""
        body = self._body(request, stream=on_delta is not None)
        try:
            async with asyncio.timeout(self._timeout_s):
                if on_delta is None:
                    reply = await self._complete(body)
                else:
                    reply = await self._stream(body, on_delta)
        except TimeoutError as exc:
            raise BackendUnavailable(
                f"{self.name}: no complete answer within {self._timeout_s}s"
            ) from exc
        except httpx.RequestError as exc:
            raise BackendUnavailable(
                f"{self.name}: {type(exc).__name__} from {self._base_url}: {exc}"
            ) from exc
        return self._generation(request, reply)

    def _body(self, request: GenerationRequest, *, stream: bool) -> dict[str, Any]:
        _check_parameters(request)
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        }
        if request.seed is not None:
            body["seed"] = request.seed
        if request.json_schema is not None:
            body["response_format"] = self._response_format(request.json_schema)
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    def _response_format(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        if self._schema_format == "json_object":
            return {"type": "json_object", "schema": dict(schema)}
        return {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": dict(schema), "strict": True},
        }

    async def _complete(self, body: dict[str, Any]) -> _Reply:
        response = await self._http().post("/chat/completions", json=body)
        self._raise_for_status(response)
        payload = self._json_object(response.text, "response")
        choices = payload.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise self._malformed("a response without choices")
        message = choices[0].get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, str):
            raise self._malformed("a response without message content")
        return _Reply(
            text=content,
            finish_reason=choices[0].get("finish_reason"),
            model=payload.get("model"),
            usage=payload.get("usage"),
        )

    async def _stream(self, body: dict[str, Any], on_delta: DeltaSink) -> _Reply:
        stream = _StreamState()
        try:
            await self._read_stream(body, on_delta, stream)
        except httpx.TransportError:
            await self._raise_if_refused(body, stream)
            raise
        if not stream.done:
            await self._raise_if_refused(body, stream)
            raise BackendUnavailable(
                f"{self.name}: the stream ended without [DONE] after {len(stream.pieces)} deltas"
            )
        return _Reply(
            text="".join(stream.pieces),
            finish_reason=stream.finish_reason,
            model=stream.model,
            usage=stream.usage,
        )

    async def _read_stream(
        self, body: dict[str, Any], on_delta: DeltaSink, stream: _StreamState
    ) -> None:
        async with self._http().stream("POST", "/chat/completions", json=body) as response:
            if not response.is_success:
                await response.aread()
                self._raise_for_status(response)
            stream.opened = True
            async for data in _sse_data(response.aiter_lines()):
                stream.events += 1
                if stream.done:  # nothing may follow [DONE]; read on only to reuse the connection
                    continue
                if data == _DONE:
                    stream.done = True
                    continue
                chunk = self._json_object(data, "stream chunk")
                if "error" in chunk:
                    raise BackendUnavailable(f"{self.name}: error mid-stream: {_message(chunk)}")
                stream.model = chunk.get("model", stream.model)
                stream.usage = chunk.get("usage") or stream.usage
                for content, reason in self._choice_updates(chunk):
                    if content:
                        stream.pieces.append(content)
                        await on_delta(content)
                    stream.finish_reason = reason or stream.finish_reason

    def _choice_updates(self, chunk: dict[str, Any]) -> list[tuple[str | None, Any]]:
        """(content, finish_reason) of each choice; the final usage chunk has none."""
        choices = chunk.get("choices") or []
        if not isinstance(choices, list):
            raise self._malformed("a stream chunk whose choices are not a list")
        updates: list[tuple[str | None, Any]] = []
        for choice in choices:
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if not isinstance(delta, dict):
                raise self._malformed("a stream chunk choice without a delta")
            content = delta.get("content")
            if content is not None and not isinstance(content, str):
                raise self._malformed("a stream chunk whose content is not text")
            updates.append((content, choice.get("finish_reason")))
        return updates

    async def _raise_if_refused(self, body: dict[str, Any], stream: _StreamState) -> None:
        """llama-cpp-python checks the prompt only after opening the stream, so a request it
        refuses gets a 200 and then no event at all. The same request unstreamed and one
        token long is cheap and gets the server's actual verdict."""
        if not stream.opened or stream.events > 0:
            return
        probe = {key: value for key, value in body.items() if not key.startswith("stream")}
        probe["max_tokens"] = 1
        # On a connection of its own: the server drops the one the stream broke on, and
        # the pool may hand that one out again before noticing.
        async with self._new_client(_ONE_CONNECTION) as client:
            response = await client.post("/chat/completions", json=probe)
        self._raise_for_status(response)

    def _generation(self, request: GenerationRequest, reply: _Reply) -> Generation:
        if reply.finish_reason not in _FINISH_REASONS:
            raise self._malformed(f"finish_reason {reply.finish_reason!r}")
        input_tokens, output_tokens = self._token_counts(request, reply)
        # A cut-short output (finish_reason "length") is incomplete JSON by nature.
        if request.json_schema is not None and reply.finish_reason == "stop":
            self._check_schema_held(request.json_schema, reply.text)
        return Generation(
            text=reply.text,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            finish_reason=reply.finish_reason,
            model=reply.model if isinstance(reply.model, str) and reply.model else self.model,
        )

    def _token_counts(self, request: GenerationRequest, reply: _Reply) -> tuple[int, int]:
        if reply.usage is not None:
            usage = reply.usage if isinstance(reply.usage, dict) else {}
            counts = (usage.get("prompt_tokens"), usage.get("completion_tokens"))
            if not all(type(count) is int and count >= 0 for count in counts):
                raise self._malformed(f"usage {reply.usage!r}")
            return usage["prompt_tokens"], usage["completion_tokens"]
        if self._usage_counter is None:
            raise BackendUnavailable(
                f"{self.name}: no usage reported (the server ignores "
                "stream_options.include_usage); give the backend a usage_counter"
            )
        if not self._local_counting_logged:
            log.warning(
                "%s: the server reports no token usage when streaming; counting with %s",
                self.name,
                type(self._usage_counter).__name__,
            )
            self._local_counting_logged = True
        # Tokenizing one prompt takes about a millisecond: not worth a thread hop.
        return (
            self._usage_counter.count_chat(request.messages),
            self._usage_counter.count(reply.text),
        )

    def _check_schema_held(self, schema: Mapping[str, Any], text: str) -> None:
        try:
            validator_for(schema)(schema).validate(json.loads(text))
        except json.JSONDecodeError as exc:
            raise BackendRejected(
                f"{self.name}: the server did not enforce the JSON schema (output is not JSON)"
            ) from exc
        except ValidationError as exc:
            raise BackendRejected(
                f"{self.name}: the server did not enforce the JSON schema: {exc.message}"
            ) from exc

    def _raise_for_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if response.is_success:
            return
        if status in _CREDENTIAL_ERRORS:
            raise BackendRejected(f"{self.name}: credentials refused (HTTP {status})")
        detail = f"{self.name}: HTTP {status}: {_message(_json_or_text(response))}"
        if 400 <= status < 500 and status not in _TRY_LATER_ERRORS:
            raise BackendRejected(detail)
        raise BackendUnavailable(detail)

    def _json_object(self, text: str, what: str) -> dict[str, Any]:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise self._malformed(
                f"a {what} that is not JSON: {text[:_ERROR_TEXT_LIMIT]!r}"
            ) from exc
        if not isinstance(value, dict):
            raise self._malformed(f"a {what} that is not a JSON object")
        return value

    def _malformed(self, what: str) -> BackendUnavailable:
        return BackendUnavailable(f"{self.name}: malformed answer from the server: {what}")

    def _http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None:
            self._client = self._new_client(self._limits)
            self._client_loop = loop
        elif self._client_loop is not loop:
            raise RuntimeError(
                f"{self.name}: its connection pool belongs to another event loop; close() it"
            )
        return self._client

    def _new_client(self, limits: httpx.Limits) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self._base_url, headers=self._headers, timeout=self._timeout_s, limits=limits
        )


def _check_parameters(request: GenerationRequest) -> None:
    """Refuse what no server should see; llama-cpp-python would answer these with a 500."""
    if not request.messages:
        raise BackendRejected("no messages to complete")
    roles = {message.role for message in request.messages}
    if not roles <= _CHAT_ROLES:
        # "tool" turns need the tool_call_id of an assistant tool call: ChatMessage has none.
        raise BackendRejected(f"roles {sorted(roles - _CHAT_ROLES)} cannot be sent as such")
    if request.max_tokens < 1:
        raise BackendRejected(f"max_tokens must be positive, got {request.max_tokens}")
    if not 0.0 <= request.temperature <= MAX_TEMPERATURE:
        raise BackendRejected(
            f"temperature must be within [0, {MAX_TEMPERATURE}], got {request.temperature}"
        )
    if request.json_schema is not None:
        try:
            validator_for(request.json_schema).check_schema(dict(request.json_schema))
        except SchemaError as exc:
            raise BackendRejected(f"not a valid JSON schema: {exc.message}") from exc


async def _sse_data(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """The data of each server-sent event, its ``data:`` lines joined by newlines.

    Comments (keep-alive pings) and the ``event``/``id``/``retry`` fields are skipped; an
    event cut off by the end of the stream is still yielded, so a truncated chunk shows up
    as malformed JSON rather than vanishing.
    """
    data: list[str] = []
    async for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value.removeprefix(" "))
    if data:
        yield "\n".join(data)


def _json_or_text(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def _message(body: Any) -> str:
    """The human part of an error body: OpenAI's ``error.message``, FastAPI's ``detail``."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])[:_ERROR_TEXT_LIMIT]
        if isinstance(error, str):
            return error[:_ERROR_TEXT_LIMIT]
        if "detail" in body:
            return str(body["detail"])[:_ERROR_TEXT_LIMIT]
    return str(body)[:_ERROR_TEXT_LIMIT]
