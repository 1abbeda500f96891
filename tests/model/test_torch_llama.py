"""The batched torch engine on the CPU: the same SmolLM2 weights and decoding the GPU runs."""

import json
import threading
from collections.abc import Iterator

import jsonschema
import numpy as np
import pytest
import torch
from llama_cpp import Llama

from services.inference.completion import CompletionEnd, CompletionRejectedError, CompletionRequest
from services.inference.torch_llama.engine import BatchingEngine
from services.inference.torch_llama.transformer import SlotTransformer
from shared.models import ChatMessage, GgufTokenizer, locate_smollm2_gguf
from shared.models.gguf_file import GgufFile

pytestmark = pytest.mark.model

WAIT_S = 120.0
YES_NO = {
    "type": "object",
    "properties": {"answer": {"enum": ["yes", "no"]}},
    "required": ["answer"],
}


@pytest.fixture(scope="module")
def tokenizer() -> GgufTokenizer:
    return GgufTokenizer()


@pytest.fixture(scope="module")
def model() -> SlotTransformer:
    gguf = GgufFile.read(locate_smollm2_gguf())
    return SlotTransformer(gguf, slots=3, max_len=512, device="cpu", dtype=torch.float32)


@pytest.fixture
def engine(model: SlotTransformer, tokenizer: GgufTokenizer) -> Iterator[BatchingEngine]:
    engine = BatchingEngine(model, tokenizer)
    engine.start()
    yield engine
    engine.stop()


class _Sink:
    def __init__(self, cancel_after: int | None = None) -> None:
        self.deltas: list[str] = []
        self.totals: CompletionEnd | None = None
        self.error: Exception | None = None
        self.done = threading.Event()
        self._cancel_after = cancel_after

    def text(self, delta: str) -> None:
        self.deltas.append(delta)

    def end(self, totals: CompletionEnd) -> None:
        self.totals = totals
        self.done.set()

    def fail(self, error: Exception) -> None:
        self.error = error
        self.done.set()

    def cancelled(self) -> bool:
        return self._cancel_after is not None and len(self.deltas) >= self._cancel_after

    def finished(self) -> CompletionEnd:
        assert self.done.wait(WAIT_S), "the stream never ended"
        assert self.error is None, f"the stream failed: {self.error}"
        assert self.totals is not None
        return self.totals


def _chat(tokenizer: GgufTokenizer, question: str) -> str:
    return tokenizer.render_chat([ChatMessage(role="user", content=question)])


def _greedy(
    model: SlotTransformer, slots: list[int], prompts: list[list[int]], steps: int
) -> list[list[int]]:
    tokens = model.prefill(slots, prompts).argmax(-1).tolist()
    out = [[token] for token in tokens]
    width = max(slots) + 1
    positions = {slot: len(prompt) for slot, prompt in zip(slots, prompts, strict=True)}
    for _ in range(steps - 1):
        feed = torch.zeros(width, dtype=torch.long)
        at = torch.zeros(width, dtype=torch.long)
        for row, slot in enumerate(slots):
            feed[slot], at[slot] = out[row][-1], positions[slot]
            positions[slot] += 1
        logits = model.decode(feed, at)
        for row, slot in enumerate(slots):
            out[row].append(int(logits[slot].argmax()))
    return out


@pytest.mark.parametrize(
    "question",
    ["What is the capital of France? Answer in one word.", "Name three colours.", "Is water wet?"],
)
def test_next_token_logits_match_llama_cpp(
    model: SlotTransformer, tokenizer: GgufTokenizer, question: str
) -> None:
    # Questions whose two likeliest tokens are far apart: llama.cpp multiplies with 8-bit
    # activations, which can swap a near tie (0.1 apart) but not these.
    prompt = tokenizer.encode(_chat(tokenizer, question))
    llama = Llama(model_path=str(locate_smollm2_gguf()), n_ctx=512, logits_all=True, verbose=False)
    llama.eval(prompt)
    reference = np.array(llama.scores[len(prompt) - 1])
    llama.close()

    ours = model.prefill([0], [prompt])[0].numpy()

    assert ours.argmax() == reference.argmax(), "the most likely next token differs"
    assert np.corrcoef(ours, reference)[0, 1] > 0.995


def test_a_sequence_decodes_the_same_alone_and_beside_others(
    model: SlotTransformer, tokenizer: GgufTokenizer
) -> None:
    first = tokenizer.encode(_chat(tokenizer, "Name three colours."))
    second = tokenizer.encode(_chat(tokenizer, "Say hello to the team in French, please."))

    (alone,) = _greedy(model, [0], [first], steps=12)
    beside, _ = _greedy(model, [2, 0], [first, second], steps=12)

    assert alone == beside, "batching changed a sequence's greedy tokens"


def test_constrained_streams_each_return_json_matching_their_schema(
    engine: BatchingEngine, tokenizer: GgufTokenizer
) -> None:
    questions = ["Is Paris in France?", "Is the sun cold?", "Is water wet?", "Can fish fly?"]
    sinks = [_Sink() for _ in questions]  # more streams than the engine has slots
    for question, sink in zip(questions, sinks, strict=True):
        request = CompletionRequest(
            prompt=_chat(tokenizer, question + " Answer as JSON."),
            max_tokens=32,
            json_schema=json.dumps(YES_NO),
        )
        engine.submit(request, sink)

    for sink in sinks:
        totals = sink.finished()
        answer = json.loads("".join(sink.deltas))
        jsonschema.validate(answer, YES_NO)
        assert totals.finish_reason == "stop"


def test_max_tokens_ends_a_stream_with_finish_reason_length(
    engine: BatchingEngine, tokenizer: GgufTokenizer
) -> None:
    sink = _Sink()
    prompt = _chat(tokenizer, "Count from 1 to 50, separated by commas.")
    engine.submit(CompletionRequest(prompt=prompt, max_tokens=6), sink)

    totals = sink.finished()

    assert (totals.finish_reason, totals.output_tokens) == ("length", 6)
    assert totals.input_tokens == len(tokenizer.encode(prompt))
    assert "".join(sink.deltas).strip(), "six tokens of counting should print something"


def test_a_prompt_beyond_the_context_is_rejected_before_it_runs(
    engine: BatchingEngine, tokenizer: GgufTokenizer
) -> None:
    prompt = _chat(tokenizer, "word " * 600)

    with pytest.raises(CompletionRejectedError, match="context window of 512"):
        engine.submit(CompletionRequest(prompt=prompt, max_tokens=8), _Sink())


def test_a_cancelled_stream_ends_early_and_frees_its_slot(
    engine: BatchingEngine, tokenizer: GgufTokenizer
) -> None:
    prompt = _chat(tokenizer, "Write a long story about a lighthouse keeper.")
    cancelled = [_Sink(cancel_after=1) for _ in range(3)]
    for sink in cancelled:
        engine.submit(CompletionRequest(prompt=prompt, max_tokens=200), sink)
    after = _Sink()
    engine.submit(CompletionRequest(prompt=prompt, max_tokens=4), after)

    for sink in cancelled:
        assert sink.finished().output_tokens < 200, "a cancelled stream ran to its end"
    assert after.finished().output_tokens == 4, "the slots of cancelled streams were not freed"


def test_sampling_with_a_seed_is_reproducible(
    engine: BatchingEngine, tokenizer: GgufTokenizer
) -> None:
    prompt = _chat(tokenizer, "Invent a name for a cat.")
    texts = []
    for _ in range(2):
        sink = _Sink()
        engine.submit(
            CompletionRequest(prompt=prompt, max_tokens=10, temperature=0.9, seed=7), sink
        )
        sink.finished()
        texts.append("".join(sink.deltas))

    assert texts[0] == texts[1]


def test_a_failing_step_fails_its_streams_instead_of_leaving_them_waiting(
    engine: BatchingEngine, model: SlotTransformer, tokenizer: GgufTokenizer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    def broken(*_: object) -> torch.Tensor:
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    monkeypatch.setattr(model, "decode", broken)
    sink = _Sink()
    engine.submit(CompletionRequest(prompt=_chat(tokenizer, "hi"), max_tokens=8), sink)

    assert sink.done.wait(WAIT_S), "the stream was left waiting"
    assert isinstance(sink.error, RuntimeError)
