"""A Llama-architecture GGUF model's hyper-parameters and weights, dequantised for torch.

The tensors stay in GGUF's layout: a linear weight is ``(out_features, in_features)`` and the
query/key projections are in llama.cpp's rotary order (pairs of adjacent dimensions), which
``transformer.py`` applies as it is, so no permutation back to Hugging Face's order is needed.
Dequantisation is the ``gguf`` package's reference code (llama.cpp's own Python library).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType
from gguf.quants import dequantize

from shared.models.gguf_file import GgufFile, GgufTensor

F32 = npt.NDArray[np.float32]


class UnsupportedModelError(ValueError):
    """The GGUF file holds an architecture or tensor layout this engine cannot run."""


@dataclass(frozen=True)
class LlamaConfig:
    """Hyper-parameters of a Llama-style decoder.

    Example:
        >>> config = LlamaConfig.from_gguf(GgufFile.read(locate_smollm2_gguf()))
        >>> (config.layers, config.heads, config.kv_heads, config.head_dim)
        (30, 9, 3, 64)
    """

    vocab_size: int
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    ffn: int
    rms_eps: float
    rope_base: float
    context_length: int

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @classmethod
    def from_gguf(cls, gguf: GgufFile) -> LlamaConfig:
        meta = gguf.metadata
        architecture = meta.get("general.architecture")
        if architecture != "llama":
            raise UnsupportedModelError(f"{gguf.path}: architecture {architecture!r} is not llama")
        embedding = gguf.tensors["token_embd.weight"]
        return cls(
            vocab_size=int(embedding.shape[1]),
            hidden=int(meta["llama.embedding_length"]),
            layers=int(meta["llama.block_count"]),
            heads=int(meta["llama.attention.head_count"]),
            kv_heads=int(
                meta.get("llama.attention.head_count_kv", meta["llama.attention.head_count"])
            ),
            ffn=int(meta["llama.feed_forward_length"]),
            rms_eps=float(meta["llama.attention.layer_norm_rms_epsilon"]),
            rope_base=float(meta.get("llama.rope.freq_base", 10000.0)),
            context_length=int(meta["llama.context_length"]),
        )


def read_tensor(gguf: GgufFile, name: str) -> F32:
    """Tensor ``name`` as float32 in row-major (outermost dimension first) order."""
    try:
        tensor = gguf.tensors[name]
    except KeyError:
        raise UnsupportedModelError(f"{gguf.path}: no tensor {name!r}") from None
    return _dequantized(gguf.path, tensor)


def _dequantized(path: Path, tensor: GgufTensor) -> F32:
    try:
        qtype = GGMLQuantizationType(tensor.type_id)
    except ValueError:
        raise UnsupportedModelError(f"{tensor.name}: unknown ggml type {tensor.type_id}") from None
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    shape = tuple(reversed(tensor.shape))  # outermost first
    row_bytes = shape[-1] // block_size * type_size
    rows = int(np.prod(shape[:-1], dtype=np.int64))
    raw = np.memmap(path, dtype=np.uint8, mode="r", offset=tensor.offset, shape=(rows, row_bytes))
    values = dequantize(np.asarray(raw), qtype)
    return np.array(values.reshape(shape), dtype=np.float32)  # a writable copy


def layer_tensor_names(layer: int) -> dict[str, str]:
    """The GGUF names of one decoder block's tensors, by role."""
    prefix = f"blk.{layer}."
    roles = ("attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm",
             "ffn_gate", "ffn_up", "ffn_down")  # fmt: skip
    return {role: f"{prefix}{role}.weight" for role in roles}
