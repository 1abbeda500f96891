"""Token-by-token completion of a raw prompt with llama.cpp, with exact token accounting."""

import codecs
from collections.abc import Iterator
from functools import lru_cache

import llama_cpp as llama_lib
from llama_cpp import Llama
from llama_cpp.llama_grammar import LlamaGrammar, json_schema_to_gbnf

from services.inference.completion import CompletionEnd, CompletionRejectedError, CompletionRequest

# Never decode a prompt's last token alone from the cache: a one-token decode gives logits
# that differ from a batched one's (by up to 0.7 for SmolLM2), enough to flip a greedy answer.
_MIN_PROMPT_DECODE = 2
# The vendored converter lets raw control characters into strings, which json.loads rejects.
_LOOSE_CHAR_RULE = 'char ::= [^"\\\\] |'
_JSON_CHAR_RULE = 'char ::= [^"\\\\\\x00-\\x1F] |'


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
    gbnf = request.grammar
    if request.json_schema is not None:
        gbnf = schema_to_gbnf(request.json_schema)
    grammar = _compile_grammar(llama, gbnf) if gbnf else None
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


@lru_cache(maxsize=64)
def schema_to_gbnf(schema_json: str) -> str:
    """Translate a JSON schema (as text) into a GBNF grammar whose strings are valid JSON.

    Properties keep the schema's order (required ones first), so put the discriminating
    property such as ``"action"`` first. Raises ``CompletionRejectedError``.

    Example:
        >>> print(schema_to_gbnf('{"enum": ["a", "b"]}'))
        root ::= "\\"a\\"" | "\\"b\\""
        space ::= " "?
    """
    try:
        gbnf = str(json_schema_to_gbnf(schema_json))
    except Exception as exc:
        raise CompletionRejectedError(f"cannot convert JSON schema to a grammar: {exc}") from exc
    return gbnf.replace(_LOOSE_CHAR_RULE, _JSON_CHAR_RULE)
