"""The Triton model repository shipped beside this module, and the tensor logic its models run.

``triton_models/`` holds python-backend models (``config.pbtxt`` + ``1/<model>.py``) that
Triton Inference Server loads; the model files stay thin and call into this package.
"""

from __future__ import annotations

from collections.abc import Sequence
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
