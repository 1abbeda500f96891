"""Token masks for constrained decoding (llguidance over the SmolLM2 vocabulary)."""

import json

import pytest

from services.inference.completion import CompletionRejectedError, CompletionRequest
from services.inference.torch_llama.constraints import GrammarCompiler
from shared.models import GgufTokenizer

SCHEMA = json.dumps(
    {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
)


@pytest.fixture(scope="module")
def compiler() -> GrammarCompiler:
    return GrammarCompiler(GgufTokenizer())


def _request(*, json_schema: str | None = None, grammar: str | None = None) -> CompletionRequest:
    return CompletionRequest(prompt="x", json_schema=json_schema, grammar=grammar)


def _token(compiler: GrammarCompiler, text: str) -> int:
    (token,) = compiler.tokenizer.encode(text)
    return token


def test_a_request_without_a_constraint_gets_no_matcher(compiler: GrammarCompiler) -> None:
    assert compiler.matcher(_request()) is None


def test_a_json_schema_allows_only_an_object_to_start(compiler: GrammarCompiler) -> None:
    matcher = compiler.matcher(_request(json_schema=SCHEMA))
    assert matcher is not None

    allowed = compiler.allowed(matcher).nonzero()[0]
    texts = [compiler.tokenizer.token_bytes(int(token)) for token in allowed]

    assert texts, "the object must be able to open"
    assert all(text.startswith(b"{") for text in texts), f"not an object's start: {texts[:5]}"


def test_the_schema_fixes_the_values_a_property_may_take(compiler: GrammarCompiler) -> None:
    matcher = compiler.matcher(_request(json_schema=SCHEMA))
    assert matcher is not None
    assert matcher.consume_tokens(compiler.tokenizer.encode('{"ok":'))

    allowed = compiler.allowed(matcher)

    assert allowed[_token(compiler, "true")]
    assert not allowed[_token(compiler, '"')], "a boolean property cannot take a string"


def test_a_gbnf_grammar_constrains_too(compiler: GrammarCompiler) -> None:
    matcher = compiler.matcher(_request(grammar='root ::= "yes" | "no"'))
    assert matcher is not None

    allowed = compiler.allowed(matcher)

    assert allowed[_token(compiler, "yes")]
    assert allowed[_token(compiler, "no")]
    assert not allowed[_token(compiler, "maybe")]


@pytest.mark.parametrize(
    "constraint",
    [{"json_schema": "{not json"}, {"grammar": "root ::= undefined-rule"}],
    ids=["broken schema", "grammar with an undefined rule"],
)
def test_a_constraint_that_does_not_compile_is_rejected(
    compiler: GrammarCompiler, constraint: dict[str, str]
) -> None:
    with pytest.raises(CompletionRejectedError):
        compiler.matcher(_request(**constraint))


def test_a_batch_gets_one_mask_row_per_stream_and_all_ones_for_free_rows(
    compiler: GrammarCompiler,
) -> None:
    constrained = compiler.matcher(_request(json_schema=SCHEMA))

    bitmask = compiler.fill([None, constrained])

    assert bitmask is not None
    assert bitmask.shape == (2, compiler.words)
    assert (bitmask[0] == -1).all(), "an unconstrained stream may take any token"
    assert (bitmask[1] != -1).any(), "the constrained stream's row must mask tokens"


def test_a_batch_without_constraints_needs_no_mask(compiler: GrammarCompiler) -> None:
    assert compiler.fill([None, None]) is None


def test_an_object_closes_after_its_listed_properties(compiler: GrammarCompiler) -> None:
    # JSON Schema's default would allow more properties; conduit's schemas mean "just these".
    matcher = compiler.matcher(_request(json_schema=SCHEMA))
    assert matcher is not None
    assert matcher.consume_tokens(compiler.tokenizer.encode('{"ok":true'))

    allowed = compiler.allowed(matcher).nonzero()[0]
    texts = [compiler.tokenizer.token_bytes(int(token)) for token in allowed]

    assert texts, "the object must be able to close"
    assert all(text.startswith(b"}") for text in texts), f"not closed: {texts[:5]}"
