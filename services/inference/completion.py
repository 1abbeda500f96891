"""A raw completion request and the totals that end its stream: the contract every
token-streaming engine (llama.cpp on CPU, the batched torch engine on GPU) and its Triton
model share. Free of any engine, so clients import it without loading one."""

from dataclasses import dataclass

DEFAULT_MAX_TOKENS = 128


class CompletionRejectedError(ValueError):
    """The request cannot run as given (empty prompt, no room in the context, bad grammar)."""


@dataclass(frozen=True, kw_only=True)
class CompletionRequest:
    """A raw prompt to continue; the caller renders any chat template into it.

    The prompt is tokenized with special tokens parsed, so ChatML markup such as
    ``<|im_start|>`` reaches the model as the control tokens it was trained on. Output may be
    constrained by a GBNF ``grammar`` or a ``json_schema`` (JSON text), not both.

    Example:
        >>> CompletionRequest(prompt="<|im_start|>user\\nHi<|im_end|>\\n").max_tokens
        128
    """

    prompt: str
    max_tokens: int = DEFAULT_MAX_TOKENS
    temperature: float = 0.0
    seed: int | None = None
    grammar: str | None = None  # GBNF
    json_schema: str | None = None

    def __post_init__(self) -> None:
        if not self.prompt:
            raise CompletionRejectedError("the prompt is empty")
        if self.max_tokens <= 0:
            raise CompletionRejectedError(f"max_tokens must be positive, got {self.max_tokens}")
        if self.temperature < 0:
            raise CompletionRejectedError(
                f"temperature must not be negative, got {self.temperature}"
            )
        if self.grammar is not None and self.json_schema is not None:
            raise CompletionRejectedError("give a grammar or a JSON schema, not both")


@dataclass(frozen=True, kw_only=True)
class CompletionEnd:
    """The last item of a stream: why it ended and what it cost."""

    finish_reason: str  # "stop" (end-of-generation token) | "length" (max_tokens reached)
    input_tokens: int
    output_tokens: int
