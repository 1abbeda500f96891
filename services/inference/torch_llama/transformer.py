"""The Llama forward pass over a slotted KV cache: batched prefill and batched decode.

Every running sequence owns one slot of the cache (``slots x kv_heads x max_len x
head_dim`` per layer), so sequences of any length join and leave a batch between steps
without copying anything. Grouped-query attention folds each key/value head's group of
query heads into extra query rows, so keys and values are never repeated in memory.

On CUDA, decode steps replay CUDA graphs captured once per batch width (rounded up to the
next bucket): eager PyTorch spends ~20 ms a step launching the ~1,500 kernels of a 30-layer
model, a replay launches them all at once. Graphs attend over the whole ``max_len`` with a
mask, so one graph serves every sequence length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

if TYPE_CHECKING:  # torch imports it lazily itself: at run time it would be a cycle
    from torch.cuda import _POOL_HANDLE

from services.inference.torch_llama.weights import LlamaConfig, layer_tensor_names, read_tensor
from shared.models.gguf_file import GgufFile

# Eager decode attends over a prefix of the cache rounded up to this many positions, so
# the kernels see few distinct shapes.
_LENGTH_STEP = 64
_GRAPH_WIDTHS = (1, 2, 4, 8, 16, 32, 48, 64, 96, 128, 160, 192, 256)
# Largest |logit| difference between a replayed graph and eager decode still taken as equal
# (bf16 rounding in different kernels); a larger one keeps the engine eager.
_GRAPH_TOLERANCE = 0.5


@dataclass
class _DecodeGraph:
    graph: torch.cuda.CUDAGraph
    tokens: torch.Tensor  # width x 1, the replay's input
    positions: torch.Tensor
    logits: torch.Tensor  # width x vocab, its output


@dataclass(frozen=True)
class _Layer:
    attn_norm: torch.Tensor
    qkv: torch.Tensor  # (heads + 2 kv_heads) * head_dim x hidden
    out: torch.Tensor
    ffn_norm: torch.Tensor
    gate_up: torch.Tensor  # 2 ffn x hidden
    down: torch.Tensor


class SlotTransformer:
    """A GGUF Llama on ``device`` with a KV cache of ``slots`` sequences of ``max_len``.

    Example::

        model = SlotTransformer(GgufFile.read(path), slots=128, max_len=2048, device="cuda")
        logits = model.prefill([0, 1], [[1, 2, 3], [4, 5]])   # next-token logits, 2 x vocab
        logits = model.decode(torch.tensor([7, 8]), torch.tensor([3, 2]))  # slots 0 and 1
    """

    def __init__(
        self,
        gguf: GgufFile,
        *,
        slots: int,
        max_len: int,
        device: str | torch.device,
        dtype: torch.dtype = torch.bfloat16,
    ) -> None:
        self.config = LlamaConfig.from_gguf(gguf)
        self.slots = slots
        self.max_len = max_len
        self.device = torch.device(device)
        self.dtype = dtype
        self.embedding = self._load(gguf, "token_embd.weight")
        has_output = "output.weight" in gguf.tensors  # else tied to the embedding
        self.output = self._load(gguf, "output.weight") if has_output else self.embedding
        self.output_norm = self._load(gguf, "output_norm.weight")
        self.layers = [self._layer(gguf, index) for index in range(self.config.layers)]
        config = self.config
        shape = (config.layers, slots, config.kv_heads, max_len, config.head_dim)
        self.cache_k = torch.zeros(shape, dtype=dtype, device=self.device)
        self.cache_v = torch.zeros(shape, dtype=dtype, device=self.device)
        half = config.head_dim // 2
        inverse = config.rope_base ** (
            -torch.arange(half, dtype=torch.float64) * 2 / config.head_dim
        )
        angles = torch.outer(torch.arange(max_len, dtype=torch.float64), inverse)
        self._cos = angles.cos().to(device=self.device, dtype=torch.float32)
        self._sin = angles.sin().to(device=self.device, dtype=torch.float32)
        self._graphs: dict[int, _DecodeGraph] = {}

    @property
    def graph_widths(self) -> list[int]:
        """Batch widths with a captured decode graph (none off CUDA or before capture)."""
        return sorted(self._graphs)

    @torch.inference_mode()
    def capture_graphs(self) -> float:
        """Capture one decode graph per width bucket up to ``slots``; returns the largest
        logit difference from eager decode seen while checking them. A mismatch beyond
        tolerance drops the graphs (decode stays eager) and raises ``RuntimeError``.

        Only while no sequence runs: capture writes garbage at position 0 of every slot.
        """
        if self.device.type != "cuda":
            return 0.0
        widths = sorted({w for w in _GRAPH_WIDTHS if w < self.slots} | {self.slots})
        pool = torch.cuda.graph_pool_handle()
        try:
            for width in reversed(widths):  # largest first, so the rest reuse its memory
                self._graphs[width] = self._capture(width, pool)
            worst = max(self._check_graph(width) for width in widths[:3])
        except Exception as exc:
            self._graphs.clear()
            raise RuntimeError(f"decode graphs could not be captured: {exc}") from exc
        if worst > _GRAPH_TOLERANCE:
            self._graphs.clear()
            raise RuntimeError(f"decode graphs differ from eager decode by {worst:.3f}")
        return worst

    def _capture(self, width: int, pool: _POOL_HANDLE) -> _DecodeGraph:
        tokens = torch.zeros((width, 1), dtype=torch.long, device=self.device)
        positions = torch.zeros((width, 1), dtype=torch.long, device=self.device)
        side = torch.cuda.Stream(self.device)  # type: ignore[no-untyped-call]
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            for _ in range(2):  # warm-up: lazy initialisation must not happen in capture
                self._decode_full(tokens, positions)
        torch.cuda.current_stream(self.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=pool):
            logits = self._decode_full(tokens, positions)
        return _DecodeGraph(graph, tokens, positions, logits)

    def _check_graph(self, width: int) -> float:
        generator = torch.Generator(device="cpu").manual_seed(width)
        tokens = torch.randint(0, self.config.vocab_size, (width,), generator=generator)
        positions = torch.zeros(width, dtype=torch.long)
        eager = self._decode_eager(tokens, positions)
        replayed = self.decode(tokens, positions)
        return float((eager - replayed).abs().max())

    def _load(self, gguf: GgufFile, name: str) -> torch.Tensor:
        return torch.from_numpy(read_tensor(gguf, name)).to(self.device, self.dtype)

    def _layer(self, gguf: GgufFile, index: int) -> _Layer:
        names = layer_tensor_names(index)

        def load(name: str) -> torch.Tensor:
            return self._load(gguf, name)

        return _Layer(
            attn_norm=load(names["attn_norm"]),
            qkv=torch.cat([load(names["attn_q"]), load(names["attn_k"]), load(names["attn_v"])]),
            out=load(names["attn_output"]),
            ffn_norm=load(names["ffn_norm"]),
            gate_up=torch.cat([load(names["ffn_gate"]), load(names["ffn_up"])]),
            down=load(names["ffn_down"]),
        )

    @torch.inference_mode()
    def prefill(self, slots: list[int], prompts: list[list[int]]) -> torch.Tensor:
        """Run whole prompts into their slots (positions 0..n-1); next-token logits, float32."""
        lengths = torch.tensor([len(p) for p in prompts], device=self.device)
        width = int(lengths.max())
        tokens = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, prompt in enumerate(prompts):
            tokens[row, : len(prompt)] = torch.tensor(prompt)
        tokens = tokens.to(self.device)
        positions = torch.arange(width, device=self.device).expand(len(prompts), width)
        keys = torch.arange(width, device=self.device)
        # Causal, and padding keys masked: row i of sequence b sees keys j <= i, j < len(b).
        mask = (keys[None, None, :] <= keys[None, :, None]) & (
            keys[None, None, :] < lengths[:, None, None]
        )
        slot_index = torch.tensor(slots, device=self.device)
        hidden = self._forward(tokens, positions, mask, slot_index, start=None)
        last = hidden[torch.arange(len(prompts), device=self.device), lengths - 1]
        return self._logits(last)

    @torch.inference_mode()
    def decode(self, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """One token for each of slots 0..n-1 (n = len(tokens)) at ``positions``; logits.

        Rows of idle slots may hold any token at position 0: their output is garbage to
        ignore, and a prefill overwrites what they wrote (so may a graph's padding rows,
        which fall on slots n.. that no running sequence holds).
        """
        width = len(tokens)
        bucket = next((w for w in self.graph_widths if w >= width), None)
        if bucket is None:
            return self._decode_eager(tokens, positions)
        replay = self._graphs[bucket]
        replay.tokens.zero_()
        replay.positions.zero_()
        replay.tokens[:width, 0].copy_(tokens, non_blocking=True)
        replay.positions[:width, 0].copy_(positions, non_blocking=True)
        replay.graph.replay()
        return replay.logits[:width]

    def _decode_full(self, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Decode attending over the whole cache length: fixed shapes, for graph capture."""
        keys = torch.arange(self.max_len, device=self.device)
        mask = keys[None, None, :] <= positions[:, :, None]
        hidden = self._forward(tokens, positions, mask, None, start=self.max_len)
        return self._logits(hidden[:, 0])

    def _decode_eager(self, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        tokens = tokens.to(self.device).view(-1, 1)
        positions = positions.to(self.device).view(-1, 1)
        span = min(self.max_len, -(-(int(positions.max()) + 1) // _LENGTH_STEP) * _LENGTH_STEP)
        keys = torch.arange(span, device=self.device)
        mask = keys[None, None, :] <= positions[:, :, None]
        hidden = self._forward(tokens, positions, mask, None, start=span)
        return self._logits(hidden[:, 0])

    def _forward(
        self,
        tokens: torch.Tensor,
        positions: torch.Tensor,
        mask: torch.Tensor,
        slot_index: torch.Tensor | None,
        start: int | None,
    ) -> torch.Tensor:
        config = self.config
        batch, width = tokens.shape
        cos, sin = self._cos[positions], self._sin[positions]
        x = self.embedding[tokens]
        q_size = config.heads * config.head_dim
        kv_size = config.kv_heads * config.head_dim
        rows = torch.arange(batch, device=self.device)
        for index, layer in enumerate(self.layers):
            h = _rms_norm(x, layer.attn_norm, config.rms_eps)
            q, k, v = torch.split(h @ layer.qkv.T, [q_size, kv_size, kv_size], dim=-1)
            q = _rope(q.view(batch, width, config.heads, config.head_dim), cos, sin)
            k = _rope(k.view(batch, width, config.kv_heads, config.head_dim), cos, sin)
            v = v.view(batch, width, config.kv_heads, config.head_dim)
            cache_k, cache_v = self.cache_k[index], self.cache_v[index]
            if start is None:  # prefill: attend within the batch, store the whole prompt
                assert slot_index is not None
                keys, values = k.transpose(1, 2), v.transpose(1, 2)
                cache_k[slot_index, :, :width] = keys
                cache_v[slot_index, :, :width] = values
            else:  # decode: store this token, attend over the slot's cached prefix
                cache_k[rows, :, positions[:, 0]] = k[:, 0]
                cache_v[rows, :, positions[:, 0]] = v[:, 0]
                keys, values = cache_k[:batch, :, :start], cache_v[:batch, :, :start]
            attended = _grouped_attention(q, keys, values, mask)
            x = x + attended @ layer.out.T
            h = _rms_norm(x, layer.ffn_norm, config.rms_eps)
            gate, up = (h @ layer.gate_up.T).chunk(2, dim=-1)
            x = x + (F.silu(gate) * up) @ layer.down.T
        return x

    def _logits(self, hidden: torch.Tensor) -> torch.Tensor:
        normed = _rms_norm(hidden, self.output_norm, self.config.rms_eps)
        return (normed @ self.output.T).float()


def _rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    x32 = x.float()
    normed = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
    return (normed * weight.float()).to(x.dtype)


def _rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """llama.cpp's rotary embedding: dimensions (2i, 2i+1) turn by position x theta_i."""
    pairs = x.float().reshape(*x.shape[:-1], -1, 2)
    even, odd = pairs[..., 0], pairs[..., 1]
    cos, sin = cos[:, :, None, :], sin[:, :, None, :]
    turned = torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1)
    return turned.flatten(-2).to(x.dtype)


def _grouped_attention(
    q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """q: batch x width x heads x dim; keys/values: batch x kv_heads x length x dim;
    mask: batch x width x length (True = may attend). Returns batch x width x heads*dim."""
    batch, width, heads, dim = q.shape
    kv_heads = keys.shape[1]
    group = heads // kv_heads
    # Query head h uses key/value head h // group: fold each group into query rows.
    folded = q.view(batch, width, kv_heads, group, dim).permute(0, 2, 3, 1, 4)
    folded = folded.reshape(batch, kv_heads, group * width, dim)
    row_mask = mask.repeat(1, group, 1).unsqueeze(1)
    out = F.scaled_dot_product_attention(folded, keys, values, attn_mask=row_mask)
    out = out.view(batch, kv_heads, group, width, dim).permute(0, 3, 1, 2, 4)
    return out.reshape(batch, width, heads * dim)
