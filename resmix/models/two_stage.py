"""The two-stage conditional transformer, with the seed's residual averages or without.

Stage 1 sees ``concat(input, target)`` along D; stage 2 sees
``concat(input, output1, target)``. Each stage is an input projection, sinusoidal
positions, a pre-norm transformer encoder over T and an output projection back to D.
With ``residual="leaky"`` the stages add exactly the seed's averages::

    output1 = branch1 + (input + target) / 2
    output2 = branch2 + (input + output1 + target) / 3

References: Vaswani et al. 2017 (arXiv:1706.03762); pre-norm residual blocks,
He et al. 2016 (arXiv:1603.05027).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from resmix._checks import check_same_shape, check_tensor
from resmix.config import ModelConfig


def sinusoidal_positions(T: int, d_model: int) -> Tensor:
    """Fixed sine/cosine position codes ``[T, d_model]`` (Vaswani et al. 2017)."""
    pos = torch.arange(T, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(T, d_model)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq[: d_model // 2])
    return pe


def attention(q: Tensor, k: Tensor, v: Tensor, dropout: float = 0.0) -> Tensor:
    """Scaled dot-product attention written out, ``softmax(q k^T / sqrt(hs)) v``: ``[..., T, hs]`` each.

    Written out rather than ``F.scaled_dot_product_attention``: at these sizes (T = 32 frames, 16 wide
    heads) the fused CPU kernel's forward and backward took twice as long as these three operations
    (``benchmarks/bench_cohort.py --parts``), and a stacked model runs exactly the same operations.
    """
    att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))  # (..., T, T)
    att = att.softmax(dim=-1)
    if dropout:
        att = F.dropout(att, dropout)
    return att @ v


class SelfAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int, dropout: float):
        super().__init__()
        self.n_heads, self.dropout = n_heads, dropout
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, h: Tensor) -> Tensor:
        B, T, C = h.shape
        q, k, v = self.qkv(h).split(C, dim=2)
        q, k, v = (z.view(B, T, self.n_heads, C // self.n_heads).transpose(1, 2) for z in (q, k, v))  # (B, nh, T, hs)
        y = attention(q, k, v, self.dropout if self.training else 0.0)  # (B, nh, T, hs)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))  # (B, T, C)


class Block(nn.Module):
    """Pre-norm encoder block: ``h + attn(norm(h))``, then ``h + mlp(norm(h))``."""

    def __init__(self, d_model: int, n_heads: int, ff_mult: int, dropout: float):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attn = SelfAttention(d_model, n_heads, dropout)
        self.mlp = nn.Sequential(nn.Linear(d_model, ff_mult * d_model), nn.GELU(),
                                 nn.Linear(ff_mult * d_model, d_model), nn.Dropout(dropout))

    def forward(self, h: Tensor) -> Tensor:
        h = h + self.attn(self.norm1(h))
        return h + self.mlp(self.norm2(h))


class Stage(nn.Module):
    """One stage: ``k`` streams ``[B, D, T]`` in, one learned branch ``[B, D, T]`` out.

    The branch is ``output_scale * out(norm(h))``, with ``output_scale`` a frozen constant
    (``ModelConfig.output_scale``); ``output_gain`` instead scales ``out``'s initial weights.
    """

    def __init__(self, n_streams: int, cfg: ModelConfig):
        super().__init__()
        self.inp = nn.Linear(n_streams * cfg.dim, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg.d_model, cfg.n_heads, cfg.ff_mult, cfg.dropout)
                                    for _ in range(cfg.n_layers))
        self.norm = nn.LayerNorm(cfg.d_model)
        self.out = nn.Linear(cfg.d_model, cfg.dim)
        self.input_scale = cfg.input_scale
        # frozen: a buffer moves with .to(device) but is no parameter, so no optimizer or weight
        # decay sees it; not persistent, so state dicts stay those of 0.2.0 (the config holds it)
        self.register_buffer("output_scale", torch.tensor(float(cfg.output_scale)), persistent=False)
        if cfg.zero_init_output:
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)
        elif cfg.output_gain != 1.0:  # start the branch quieter (or louder) than default init
            with torch.no_grad():
                self.out.weight.mul_(cfg.output_gain)
                self.out.bias.mul_(cfg.output_gain)

    def embed(self, *streams: Tensor) -> tuple[Tensor, Tensor]:
        """The projected streams and the position codes they are added to, each ``[B, T, C]``/``[T, C]``."""
        if self.input_scale == "rms":  # each stream to unit RMS per clip; silence stays silent
            streams = tuple(s / s.float().pow(2).mean((1, 2), keepdim=True).sqrt().clamp_min(1e-6).to(s.dtype)
                            for s in streams)
        x = torch.cat(streams, dim=1)  # (B, k*D, T)
        h = self.inp(x.transpose(1, 2))  # (B, T, C)
        return h, sinusoidal_positions(h.shape[1], h.shape[2]).to(h.device, h.dtype)

    def forward(self, *streams: Tensor) -> Tensor:
        h, pos = self.embed(*streams)
        h = h + pos  # (B, T, C)
        for block in self.blocks:
            h = block(h)
        return (self.output_scale * self.out(self.norm(h))).transpose(1, 2)  # (B, D, T)


@dataclass
class StageOutputs:
    """Every intermediate of one forward pass, each ``[B, D, T]``.

    ``branch*`` are the learned parts; ``output*`` add the residual average
    (equal to the branch when ``residual="none"``).
    """

    branch1: Tensor
    output1: Tensor
    branch2: Tensor
    output2: Tensor


class TwoStageModel(nn.Module):
    """Two conditional transformer stages over ``[B, D, T]`` tensors.

    Args:
        cfg: model settings; ``cfg.residual`` is ``"leaky"`` (the seed's first
            version) or ``"none"`` (the fixed version).

    Shape:
        input, target: ``[B, D, T]`` with ``D = cfg.dim``, any float dtype (cast to the
        parameters' dtype); outputs ``[B, D, T]``.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.stage1 = Stage(2, cfg)
        self.stage2 = Stage(3, cfg)

    def parts(self, input: Tensor, target: Tensor) -> StageOutputs:
        """Run both stages and return branches and outputs (see :class:`StageOutputs`)."""
        check_tensor(input, "input", 3, "[B, D, T]", finite=False)
        check_tensor(target, "target", 3, "[B, D, T]", finite=False)
        check_same_shape("[B, D, T]", input=input, target=target)
        if input.shape[1] != self.cfg.dim:
            raise ValueError(f"input must have D={self.cfg.dim} features [B, D, T]; got {list(input.shape)}")
        dtype = self.stage1.inp.weight.dtype  # float64 or bf16 inputs are cast, not failed deep in a matmul
        input, target = input.to(dtype), target.to(dtype)
        leaky = self.cfg.residual == "leaky"
        branch1 = self.stage1(input, target)
        output1 = branch1 + 0.5 * (input + target) if leaky else branch1
        branch2 = self.stage2(input, output1, target)
        output2 = branch2 + (input + output1 + target) / 3 if leaky else branch2
        return StageOutputs(branch1, output1, branch2, output2)

    def forward(self, input: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        """``(output1, output2)``, each ``[B, D, T]``."""
        p = self.parts(input, target)
        return p.output1, p.output2
