"""The contract between the inference service and whatever model runs underneath it."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

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

    def warm_up(self) -> None: ...

    async def generate(self, request: GenerationRequest) -> Generation: ...
