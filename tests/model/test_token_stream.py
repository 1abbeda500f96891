from collections.abc import Iterator

import pytest
from llama_cpp import Llama

from services.inference.backends.llama_cpp import load_llama
from services.inference.completion import CompletionEnd, CompletionRejectedError, CompletionRequest
from services.inference.token_stream import stream_completion

pytestmark = pytest.mark.model

PROMPT = "<|im_start|>user\nCount from 1 to 50.<|im_end|>\n<|im_start|>assistant\n"


@pytest.fixture(scope="module")
def llama() -> Iterator[Llama]:
    model = load_llama(None, n_ctx=512, n_threads=2)
    yield model
    model.close()


def test_the_stream_yields_each_token_then_totals_that_match_it(llama: Llama) -> None:
    *deltas, end = stream_completion(llama, CompletionRequest(prompt=PROMPT, max_tokens=8))

    assert all(isinstance(delta, str) and delta for delta in deltas), f"bad deltas {deltas}"
    assert end == CompletionEnd(
        finish_reason="length",
        input_tokens=len(llama.tokenize(PROMPT.encode(), add_bos=True, special=True)),
        output_tokens=8,
    ), f"totals do not match the stream: {end}"
    assert len(deltas) == 8, "each ASCII token should be streamed on its own"


def test_streaming_gives_the_same_text_as_a_plain_completion(llama: Llama) -> None:
    items = list(stream_completion(llama, CompletionRequest(prompt=PROMPT, max_tokens=16)))
    plain = llama.create_completion(PROMPT, max_tokens=16, temperature=0.0)

    streamed = "".join(item for item in items if isinstance(item, str))
    assert streamed == plain["choices"][0]["text"], "greedy streaming diverged"  # type: ignore[index]


def test_a_prompt_that_leaves_no_room_is_rejected_before_generating(llama: Llama) -> None:
    request = CompletionRequest(prompt=PROMPT, max_tokens=llama.n_ctx())

    with pytest.raises(CompletionRejectedError, match="context window"):
        next(stream_completion(llama, request))


def test_a_repeated_prompt_gives_the_same_greedy_text_as_the_first_time(llama: Llama) -> None:
    prompt = (
        "<|im_start|>system\nYou are a concise billing assistant.<|im_end|>\n"
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
    )
    request = CompletionRequest(prompt=prompt, max_tokens=16)

    first = list(stream_completion(llama, request))
    again = list(stream_completion(llama, request))

    assert first == again, "the cached prompt changed the greedy answer"
