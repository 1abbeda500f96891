"""Token-by-token completion of a raw prompt with llama.cpp, with exact token accounting."""

import codecs
from collections.abc import Iterator
from dataclasses import dataclass

import llama_cpp as llama_lib
from llama_cpp import Llama
from llama_cpp.llama_grammar import LlamaGrammar

DEFAULT_MAX_TOKENS = 128
# Never decode a prompt's last token alone from the cache: a one-token decode gives logits
# that differ from a batched one's (by up to 0.7 for SmolLM2), enough to flip a greedy answer.
_MIN_PROMPT_DECODE = 2


class CompletionRejectedError(ValueError):
    """The request cannot run as given (empty prompt, no room in the context, bad grammar)."""


@dataclass(frozen=True, kw_only=True)
class CompletionRequest:
    """A raw prompt to continue; the caller renders any chat template into it.

    The prompt is tokenized with special tokens parsed, so ChatML markup such as
    ``<|im_start|>`` reaches the model as the control tokens it was trained on.

    Example:
        >>> CompletionRequest(prompt="<|im_start|>user\\nHi<|im_end|>\\n").max_tokens
        128
    """

    prompt: str
    max_tokens: int = DEFAULT_MAX_TOKENS
    temperature: float = 0.0
    seed: int | None = None
    grammar: str | None = None  # GBNF; constrains decoding when set

    def __post_init__(self) -> None:
        if not self.prompt:
            raise CompletionRejectedError("the prompt is empty")
        if self.max_tokens <= 0:
            raise CompletionRejectedError(f"max_tokens must be positive, got {self.max_tokens}")
        if self.temperature < 0:
            raise CompletionRejectedError(
                f"temperature must not be negative, got {self.temperature}"
            )


@dataclass(frozen=True, kw_only=True)
class CompletionEnd:
    """The last item of a stream: why it ended and what it cost."""

    finish_reason: str  # "stop" (end-of-generation token) | "length" (max_tokens reached)
    input_tokens: int
    output_tokens: int


def stream_completion(llama: Llama, request: CompletionRequest) -> Iterator[str | CompletionEnd]:
    """Yield each generated token's text as soon as it decodes, then one ``CompletionEnd``.

    A token that ends inside a multi-byte character yields nothing until the character
    completes, so there are at most as many text items as ``output_tokens``. Runs on the
    calling thread and holds ``llama`` throughout: one stream at a time per instance.
    Raises ``CompletionRejectedError`` before generating anything.

    Example:
        >>> for item in stream_completion(llama, CompletionRequest(prompt="1, 2,", max_tokens=4)):
        ...     print(repr(item))
        ' '
        '3'
        ','
        ' '
        CompletionEnd(finish_reason='length', input_tokens=5, output_tokens=4)
    """
    prompt_tokens = llama.tokenize(request.prompt.encode("utf-8"), add_bos=True, special=True)
    if len(prompt_tokens) + request.max_tokens > llama.n_ctx():
        raise CompletionRejectedError(
            f"{len(prompt_tokens)} prompt tokens + max_tokens {request.max_tokens} exceed "
            f"the context window of {llama.n_ctx()}"
        )
    grammar = _compile_grammar(llama, request.grammar) if request.grammar else None
    if request.seed is not None:
        llama.set_seed(request.seed)
    # Reuse at most the cached prefix that leaves a batch to decode, so the text depends on
    # the request alone and not on what this instance generated before.
    llama.n_tokens = min(llama.n_tokens, max(len(prompt_tokens) - _MIN_PROMPT_DECODE, 0))
    vocab = llama_lib.llama_model_get_vocab(llama.model)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    output_tokens = 0
    finish_reason = "length"
    tokens = llama.generate(prompt_tokens, temp=request.temperature, grammar=grammar)
    for token in tokens:
        if llama_lib.llama_vocab_is_eog(vocab, token):
            finish_reason = "stop"
            break
        output_tokens += 1
        text = decoder.decode(llama.detokenize([token]))
        if text:
            yield text
        if output_tokens >= request.max_tokens:
            break
    tokens.close()
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail
    yield CompletionEnd(
        finish_reason=finish_reason,
        input_tokens=len(prompt_tokens),
        output_tokens=output_tokens,
    )


def grammar_parses(llama: Llama, gbnf: str) -> bool:
    """Whether llama.cpp accepts the GBNF grammar; check before sampling with it.

    llama-cpp-python hands an unparsable grammar to the sampler chain as a null pointer.

    Example:
        >>> grammar_parses(llama, 'root ::= "yes" | "no"')
        True
    """
    vocab = llama_lib.llama_model_get_vocab(llama.model)
    sampler = llama_lib.llama_sampler_init_grammar(vocab, gbnf.encode("utf-8"), b"root")
    if not sampler:
        return False
    llama_lib.llama_sampler_free(sampler)
    return True


def _compile_grammar(llama: Llama, gbnf: str) -> LlamaGrammar:
    if not grammar_parses(llama, gbnf):
        raise CompletionRejectedError(f"llama.cpp rejected the grammar:\n{gbnf}")
    return LlamaGrammar.from_string(gbnf, verbose=False)
