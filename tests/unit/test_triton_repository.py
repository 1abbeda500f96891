from collections.abc import Sequence

import numpy as np
import pytest

from services.inference.completion import CompletionRejectedError, CompletionRequest
from services.inference.triton_repository import (
    MODEL_REPOSITORY,
    decode_strings,
    embed_batches,
    encode_strings,
)


class _CountingEmbedder:
    """Embeds text i as the vector [len(text)] and records every call's texts."""

    dimension = 1
    identity = "counting text lengths"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def warm_up(self) -> None:
        pass

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.array([[len(text)] for text in texts], dtype=np.float32)


def test_every_request_of_a_batch_is_embedded_in_one_call_and_gets_its_own_rows() -> None:
    embedder = _CountingEmbedder()

    rows = embed_batches(embedder, [["a", "bb"], ["ccc"], ["dddd", "", "ee"]])

    assert embedder.calls == [["a", "bb", "ccc", "dddd", "", "ee"]], "expected one embed call"
    assert [r.ravel().tolist() for r in rows] == [[1, 2], [3], [4, 0, 2]], "rows went astray"


def test_string_tensors_round_trip_utf8_in_row_order() -> None:
    tensor = encode_strings(["café", "", "日本"]).reshape(3, 1)

    assert decode_strings(tensor) == ["café", "", "日本"], "texts changed on the way"


def test_every_model_folder_has_a_config_and_its_model_file() -> None:
    for name in ("minilm", "smollm2"):
        config = (MODEL_REPOSITORY / name / "config.pbtxt").read_text()
        assert f'name: "{name}"' in config, f"{name}'s config names another model"
        assert (MODEL_REPOSITORY / name / "1" / f"{name}.py").is_file(), f"{name} has no model"


@pytest.mark.parametrize(
    "options",
    [{"prompt": ""}, {"prompt": "hi", "max_tokens": 0}, {"prompt": "hi", "temperature": -0.1}],
)
def test_a_completion_request_that_cannot_run_is_rejected_up_front(
    options: dict[str, object],
) -> None:
    with pytest.raises(CompletionRejectedError):
        CompletionRequest(**options)  # type: ignore[arg-type]
