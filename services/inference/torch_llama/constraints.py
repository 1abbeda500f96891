"""Constrained decoding for batches: a JSON schema or GBNF grammar per stream, as token masks.

llguidance (the engine llama.cpp, vLLM and SGLang use) compiles each constraint against the
model's own tokenizer and fills the masks of a whole batch in parallel native threads.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import llguidance
import llguidance.numpy as llg_numpy
import numpy as np
import numpy.typing as npt

from services.inference.completion import CompletionRejectedError, CompletionRequest
from shared.models.local_gguf import GgufTokenizer

Bitmask = npt.NDArray[np.int32]


class GrammarCompiler:
    """Turns a request's constraint into a matcher and a batch of matchers into masks.

    Example:
        >>> compiler = GrammarCompiler(GgufTokenizer())
        >>> matcher = compiler.matcher(CompletionRequest(prompt="x", json_schema='{"enum": ["a"]}'))
        >>> bool(compiler.allowed(matcher)[compiler.tokenizer.encode('"')[0]])
        True
    """

    def __init__(self, tokenizer: GgufTokenizer) -> None:
        self.tokenizer = tokenizer
        self._lltokenizer = llguidance.LLTokenizer(
            tokenizer.to_json(),
            n_vocab=tokenizer.vocab_size,
            eos_token=sorted(tokenizer.end_of_generation_ids),
        )
        self._executor = llguidance.LLExecutor()
        self.words = (tokenizer.vocab_size + 31) // 32

    def matcher(self, request: CompletionRequest) -> llguidance.LLMatcher | None:
        """A fresh matcher for the request's constraint, or None when it has none.

        Raises ``CompletionRejectedError`` when the constraint does not compile.
        """
        if request.json_schema is not None:
            grammar = _from_json_schema(request.json_schema)
        elif request.grammar is not None:
            grammar = _from_gbnf(request.grammar)
        else:
            return None
        matcher = llguidance.LLMatcher(self._lltokenizer, grammar, log_level=0)
        if matcher.is_error():
            raise CompletionRejectedError(f"the constraint cannot be used: {matcher.get_error()}")
        return matcher

    def fill(self, matchers: Sequence[llguidance.LLMatcher | None]) -> Bitmask | None:
        """One mask row per matcher (bit set = token allowed; all set for None), or None
        when no row is constrained."""
        constrained = [(m, row) for row, m in enumerate(matchers) if m is not None]
        if not constrained:
            return None
        bitmask = np.full((len(matchers), self.words), -1, dtype=np.int32)
        llg_numpy.fill_next_token_bitmask_par(self._executor, constrained, bitmask)
        return bitmask

    def allowed(self, matcher: llguidance.LLMatcher) -> npt.NDArray[np.bool_]:
        """Which token ids ``matcher`` allows next (for tests and diagnostics)."""
        bitmask = self.fill([matcher])
        assert bitmask is not None
        bits = np.unpackbits(bitmask.view(np.uint8), bitorder="little")
        return bits[: self.tokenizer.vocab_size].astype(bool)


@lru_cache(maxsize=128)
def _from_json_schema(schema: str) -> str:
    try:
        parsed = _closed_objects(json.loads(schema))
        if isinstance(parsed, dict):
            # Compact JSON, as llama.cpp's grammars allow: no tokens spent on layout.
            parsed.setdefault("x-guidance", {"whitespace_flexible": False})
        return str(llguidance.LLMatcher.grammar_from_json_schema(json.dumps(parsed)))
    except (ValueError, RuntimeError) as exc:
        raise CompletionRejectedError(f"the JSON schema cannot be used: {exc}") from exc


def _closed_objects(schema: Any) -> Any:
    """The schema with every object that lists its properties closed to others, unless it
    says otherwise: what llama.cpp's grammars (and OpenAI's strict mode) generate, where
    JSON Schema's own default would let a model wander into properties nobody asked for."""
    if isinstance(schema, list):
        return [_closed_objects(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {key: _closed_objects(value) for key, value in schema.items()}
    if "properties" in closed and "additionalProperties" not in closed:
        closed["additionalProperties"] = False
    return closed


@lru_cache(maxsize=128)
def _from_gbnf(gbnf: str) -> str:
    try:
        return str(llguidance.grammar_from("gbnf", gbnf))
    except (ValueError, RuntimeError) as exc:
        raise CompletionRejectedError(f"the grammar cannot be used: {exc}") from exc
