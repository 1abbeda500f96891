"""Triton python-backend model: MiniLM sentence embeddings, one forward pass per batch."""

import sys
from pathlib import Path
from typing import Any

# The backend stub imports this file by path and ignores PYTHONPATH: put the checkout that
# holds this model repository first, so `shared` and `services` come from the same code as
# the model files (not from wherever the venv's editable install happens to point).
_REPO_ROOT = Path(__file__).resolve().parents[5]
if str(_REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(_REPO_ROOT))

import triton_python_backend_utils as pb_utils  # type: ignore[import-not-found]  # noqa: E402

from services.inference.triton_repository import decode_strings, embed_batches  # noqa: E402
from shared.embeddings import default_embedder  # noqa: E402


class TritonPythonModel:
    """Embeds the TEXT of every request Triton's dynamic batcher hands over in one call."""

    def initialize(self, args: dict[str, str]) -> None:
        self._embedder = default_embedder()
        self._embedder.warm_up()

    def execute(self, requests: list[Any]) -> list[Any]:
        batches = [
            decode_strings(pb_utils.get_input_tensor_by_name(request, "TEXT").as_numpy())
            for request in requests
        ]
        return [
            pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("EMBEDDING", rows)])
            for rows in embed_batches(self._embedder, batches)
        ]
