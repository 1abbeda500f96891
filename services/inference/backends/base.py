"""The contract between the inference service and whatever model runs underneath it.

A backend completes a chat and, when given a `DeltaSink`, hands it the text as it is
generated, in order, before returning the whole `Generation`. Failures are typed, so the
router knows what to do next: `BackendUnavailable` (down, refusing, too slow, broke off
mid-stream, circuit open) means another backend may serve the same request;
`BackendRejected` means the request itself is wrong for this backend (too long for its
context, invalid parameters) and repeating it there is pointless.
"""

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from services.inference.completion import CompletionRejectedError, CompletionRequest
from shared.models.chat import ChatMessage


@dataclass(frozen=True, kw_only=True)
class GenerationRequest:
    """What to generate: a chat, a token budget and optional constraints.

    Example:
        >>> GenerationRequest(
        ...     messages=[ChatMessage(role="user", content="Hi")],
        ...     max_tokens=32,
        ...     json_schema={"type": "object", "properties": {"ok": {"type": "boolean"}}},
        ... ).temperature
        0.0
    """

    messages: Sequence[ChatMessage]
    max_tokens: int
    temperature: float = 0.0
    seed: int | None = None
    json_schema: Mapping[str, Any] | None = (
        None  # when set, output is constrained to this JSON schema
    )


@dataclass(frozen=True, kw_only=True)
class Generation:
    """A finished generation with its token accounting.

    Example:
        >>> Generation(text="Hello", input_tokens=30, output_tokens=2,
        ...            finish_reason="stop", model="smollm2-135m-instruct-q4_1").finish_reason
        'stop'
    """

    text: str
    input_tokens: int
    output_tokens: int
    finish_reason: str  # "stop" | "length"
    model: str


DeltaSink = Callable[[str], Awaitable[None]]


class BackendUnavailable(Exception):
    """The backend could not serve the request now; it or another may later."""


class BackendRejected(ValueError):
    """The backend refuses this request as such (context overflow, bad parameters)."""


def completion_for(
    request: GenerationRequest,
    prompt: str,
    *,
    grammar: str | None = None,
    json_schema: str | None = None,
) -> CompletionRequest:
    """The raw completion ``request`` becomes once its chat is rendered into ``prompt``,
    constrained as the engine takes it; raises ``BackendRejected`` for bad parameters."""
    try:
        return CompletionRequest(
            prompt=prompt,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            seed=request.seed,
            grammar=grammar,
            json_schema=json_schema,
        )
    except CompletionRejectedError as exc:
        raise BackendRejected(str(exc)) from exc


class ModelBackend(Protocol):
    """A loaded model able to complete chats without blocking the event loop.

    Example:
        >>> async def answer(backend: ModelBackend) -> str:
        ...     backend.warm_up()
        ...     request = GenerationRequest(
        ...         messages=[ChatMessage(role="user", content="Hi")], max_tokens=16
        ...     )
        ...     return (await backend.generate(request)).text
    """

    name: str

    def warm_up(self) -> None:
        """Load or connect what the first request would otherwise wait for."""

    async def generate(
        self, request: GenerationRequest, on_delta: DeltaSink | None = None
    ) -> Generation:
        """The completion; text pieces go to `on_delta` as they are produced, if given."""
