"""The Triton model repository shipped beside this module, and the tensor logic its models run.

``triton_models/`` holds python-backend models (``config.pbtxt`` + ``1/<model>.py``) that
Triton Inference Server loads; the model files stay thin and call into this package.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # the test setup imports this module for its paths alone
    from shared.embeddings import Embedder

F32 = npt.NDArray[np.float32]

MODEL_REPOSITORY = Path(__file__).resolve().parent / "triton_models"
EMBEDDING_MODEL = "minilm"
"""Sentence embeddings: TEXT (string) in, EMBEDDING (384 x fp32) out, dynamically batched."""
GENERATION_MODEL = "smollm2"
"""Decoupled token streaming: PROMPT in, one TEXT_DELTA per token, then the finish details."""
GPU_GENERATION_MODEL = "smollm2_gpu"
"""The same contract on a GPU, continuously batched (services/inference/torch_llama)."""


def overridden_repository(
    root: Path, model: str, *, kind: str | None = None, parameters: Mapping[str, str] | None = None
) -> Path:
    """A model repository at ``root`` serving ``model`` with its instance kind ("CPU" or
    "GPU") and string parameters overridden; the version folder links back to the real one,
    so the model's code is the checkout's.

    Example:
        >>> repo = overridden_repository(tmp, "smollm2_gpu", kind="CPU", parameters={"slots": "4"})
        >>> TritonServer(repo, models=["smollm2_gpu"])  # serves it on the CPU
    """
    source = MODEL_REPOSITORY / model
    config = (source / "config.pbtxt").read_text()
    if kind is not None:
        config = re.sub(r"kind: KIND_\w+", f"kind: KIND_{kind}", config)
    for key, value in (parameters or {}).items():
        pattern = rf'(key: "{re.escape(key)}"\s*value: {{ string_value: )"[^"]*"'
        config, found = re.subn(pattern, rf'\g<1>"{value}"', config)
        if not found:
            raise ValueError(f"model {model} has no parameter {key!r}")
    target = root / model
    target.mkdir(parents=True)
    (target / "config.pbtxt").write_text(config)
    (target / "1").symlink_to(source / "1", target_is_directory=True)
    return root


def decode_strings(tensor: npt.NDArray[np.object_]) -> list[str]:
    """The UTF-8 texts of a Triton string tensor (bytes objects, any shape), in row order.

    Example:
        >>> decode_strings(np.array([[b"caf\\xc3\\xa9"], [b"tea"]], dtype=np.object_))
        ['café', 'tea']
    """
    return [bytes(item).decode("utf-8") for item in tensor.reshape(-1)]


def encode_strings(texts: Sequence[str]) -> npt.NDArray[np.object_]:
    """A one-dimensional Triton string tensor holding ``texts`` as UTF-8 bytes.

    Example:
        >>> encode_strings(["café"])
        array([b'caf\\xc3\\xa9'], dtype=object)
    """
    return np.array([text.encode("utf-8") for text in texts], dtype=np.object_)


def embed_batches(embedder: Embedder, batches: Sequence[Sequence[str]]) -> list[F32]:
    """Embed every batch's texts in one call and give each batch back its own rows.

    Triton's dynamic batcher hands a model several requests at once; embedding them
    together is what makes batching pay.

    Example:
        >>> [rows.shape for rows in embed_batches(default_embedder(), [["a", "b"], ["c"]])]
        [(2, 384), (1, 384)]
    """
    vectors = embedder.embed([text for batch in batches for text in batch])
    bounds = np.cumsum([len(batch) for batch in batches])[:-1]
    return list(np.split(vectors, bounds))
