"""E two-stage models as one: their parameters stacked along a leading member axis, run at once.

A cohort (:mod:`resmix.training.cohort`) trains many runs of the same shapes together. Each member's
parameters are exactly a :class:`~resmix.models.two_stage.TwoStageModel`'s, under the same names; here
each is one ``[E, *shape]`` block of a flat buffer (:class:`Stacked`), and every layer runs all
members in one call: a linear layer is one ``torch.baddbmm`` over ``[E, B*T, C]``, attention
folds the members into its batch, LayerNorm normalises without its affine part and then
applies each member's gain and shift. Nothing mixes members: every operation is per member,
so a member's numbers do not depend on which others run beside it (``tests/training/test_cohort.py``
checks bit equality across cohort sizes and positions).

What differs per member besides the weights is a *setting* of the forward pass: the residual
(``"leaky"`` or ``"none"``), the input scale (``"rms"`` or ``"raw"``) and the frozen output scale,
held as ``[E]`` tensors in :class:`ModelSettings`.

Shapes: streams ``[E, B, D, T]``; each parameter ``[E, *shape]`` (:class:`Stacked`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from resmix.config import ModelConfig

from .two_stage import StageOutputs, TwoStageModel, attention, sinusoidal_positions

SHAPE_FIELDS = ("dim", "d_model", "n_layers", "n_heads", "ff_mult")  # what members must share


def shape_key(cfg: ModelConfig) -> tuple:
    """The model settings that fix the tensors' shapes: members of a cohort share them."""
    return tuple(getattr(cfg, f) for f in SHAPE_FIELDS)


@dataclass(frozen=True)
class Layout:
    """Where each named parameter of a :class:`TwoStageModel` lies in a member's row ``[P]``.

    ``names`` are the model's ``state_dict`` keys in order; parameter ``i`` occupies columns
    ``offsets[i] : offsets[i] + numel(shapes[i])``.
    """

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    offsets: tuple[int, ...]
    size: int  # P

    @classmethod
    def of(cls, model: TwoStageModel) -> "Layout":
        names, shapes, offsets, at = [], [], [], 0
        for name, p in model.named_parameters():
            names.append(name), shapes.append(tuple(p.shape)), offsets.append(at)
            at += p.numel()
        return cls(tuple(names), tuple(shapes), tuple(offsets), at)

    def which(self, keep) -> list[int]:
        """The indices of the parameters whose name and shape satisfy ``keep(name, shape)``."""
        return [i for i, (n, s) in enumerate(zip(self.names, self.shapes)) if keep(n, s)]

    def flatten(self, state: dict[str, Tensor]) -> Tensor:
        """One member's parameters ``{name: tensor}`` as a row ``[P]`` (float32)."""
        return torch.cat([state[n].detach().reshape(-1).float() for n in self.names])

    def unflatten(self, row: Tensor) -> dict[str, Tensor]:
        """A row ``[P]`` back to ``{name: tensor}``: a :class:`TwoStageModel` state dict."""
        return {n: row[o:o + math.prod(s)].view(s).clone() for n, s, o in zip(self.names, self.shapes, self.offsets)}

    def sizes(self) -> list[int]:
        return [math.prod(s) for s in self.shapes]


class Stacked:
    """One value per parameter coordinate of ``E`` members: their parameters, gradients or moments.

    Stored parameter by parameter, each parameter a contiguous ``[E, *shape]`` block of one flat
    buffer ``[E * P]``: a layer's weights reach ``torch.baddbmm`` without a copy, and element-wise
    work (an AdamW step) is one operation over the whole buffer. :meth:`rows` gives the members'
    rows ``[E, P]`` in :class:`Layout` order (what a checkpoint or a TwoStageModel holds).
    """

    def __init__(self, layout: Layout, flat: Tensor, E: int):
        if flat.shape != (E * layout.size,):
            raise ValueError(f"a stack of {E} members needs {E * layout.size} values; got {list(flat.shape)}")
        self.layout, self.flat, self.E = layout, flat, E

    @classmethod
    def from_rows(cls, layout: Layout, rows: Tensor) -> "Stacked":
        E = rows.shape[0]
        blocks = [rows[:, o:o + n] for o, n in zip(layout.offsets, layout.sizes())]  # (E, n) each
        return cls(layout, torch.cat([b.reshape(-1) for b in blocks]), E)

    def like(self, flat: Tensor | None = None) -> "Stacked":
        """A stack of the same members and layout over ``flat`` (default: zeros)."""
        return Stacked(self.layout, torch.zeros_like(self.flat) if flat is None else flat, self.E)

    def blocks(self) -> list[Tensor]:
        """Each parameter's values ``[E, n]`` (views into ``flat``)."""
        out, at = [], 0
        for n in self.layout.sizes():
            out.append(self.flat[at:at + self.E * n].view(self.E, n))
            at += self.E * n
        return out

    def views(self) -> dict[str, Tensor]:
        """Each parameter as ``[E, *shape]`` (views into ``flat``), by name."""
        return {name: b.view(self.E, *shape) for name, shape, b in zip(self.layout.names, self.layout.shapes, self.blocks())}

    def rows(self) -> Tensor:
        """The members' values as rows ``[E, P]`` in :class:`Layout` order (a copy)."""
        return torch.cat(self.blocks(), dim=1)

    def row(self, e: int) -> Tensor:
        """Member ``e``'s values as a row ``[P]`` in :class:`Layout` order (a copy)."""
        return torch.cat([b[e] for b in self.blocks()])

    def set_row(self, e: int, row: Tensor) -> None:
        """Member ``e``'s values from a row ``[P]``, in place."""
        for b, o, n in zip(self.blocks(), self.layout.offsets, self.layout.sizes()):
            b[e].copy_(row[o:o + n])

    def select(self, idx: Tensor) -> "Stacked":
        """The members ``idx`` only (a copy)."""
        return Stacked(self.layout, torch.cat([b[idx].reshape(-1) for b in self.blocks()]), len(idx))

    def row_sums(self, which: Sequence[int], fn) -> Tensor:
        """``sum over the parameters which of sum(fn(values))``, per member, in float64: ``[E]``.

        Each member's sum runs over its own values as a 1-D vector, one member at a time, so that its
        last digits cannot depend on the cohort (``tests/training/test_cohort.py`` compares a member of
        sixteen with the run alone, every record key bit for bit).
        """
        blocks = self.blocks()
        return torch.stack([sum(fn(blocks[i][e].double()).sum() for i in which) for e in range(self.E)])

    def expand(self, values: Tensor) -> Tensor:
        """One value per member ``[E]`` repeated over all of that member's coordinates: ``[E * P]``."""
        return torch.cat([values.view(-1, 1).expand(self.E, n).reshape(-1) for n in self.layout.sizes()])


@dataclass(frozen=True)
class ModelSettings:
    """The per-member settings of the forward pass, ``[E]`` each."""

    leaky: Tensor  # bool: the seed's residual averages are added
    rms_input: Tensor  # bool: each stream enters at unit RMS per clip
    output_scale: Tensor  # float: the frozen factor on each stage's branch

    @classmethod
    def of(cls, cfgs: Sequence[ModelConfig], device: torch.device | str = "cpu") -> "ModelSettings":
        return cls(torch.tensor([c.residual == "leaky" for c in cfgs], device=device),
                   torch.tensor([c.input_scale == "rms" for c in cfgs], device=device),
                   torch.tensor([float(c.output_scale) for c in cfgs], device=device))

    def select(self, idx: Tensor) -> "ModelSettings":
        return ModelSettings(self.leaky[idx], self.rms_input[idx], self.output_scale[idx])


def _linear(x: Tensor, p: dict[str, Tensor], name: str) -> Tensor:
    """``x @ W^T + b`` for every member at once: ``[E, n, in] -> [E, n, out]``."""
    return torch.baddbmm(p[f"{name}.bias"].unsqueeze(1), x, p[f"{name}.weight"].transpose(1, 2))


def _layer_norm(x: Tensor, p: dict[str, Tensor], name: str) -> Tensor:
    """LayerNorm over the last axis with each member's gain and shift: ``[E, n, C] -> [E, n, C]``."""
    return torch.addcmul(p[f"{name}.bias"].unsqueeze(1), F.layer_norm(x, x.shape[-1:]), p[f"{name}.weight"].unsqueeze(1))


def _attention(h: Tensor, p: dict[str, Tensor], name: str, B: int, n_heads: int) -> Tensor:
    E, BT, C = h.shape
    T = BT // B
    qkv = _linear(h, p, f"{name}.qkv")  # (E, B*T, 3C)
    q, k, v = qkv.view(E * B, T, 3, n_heads, C // n_heads).permute(2, 0, 3, 1, 4)  # 3 x (E*B, nh, T, hs)
    y = attention(q, k, v)  # (E*B, nh, T, hs)
    return _linear(y.transpose(1, 2).reshape(E, BT, C), p, f"{name}.proj")  # (E, B*T, C)


def _block(h: Tensor, p: dict[str, Tensor], name: str, B: int, n_heads: int) -> Tensor:
    """Pre-norm encoder block, as :class:`resmix.models.two_stage.Block`."""
    h = h + _attention(_layer_norm(h, p, f"{name}.norm1"), p, f"{name}.attn", B, n_heads)
    hidden = F.gelu(_linear(_layer_norm(h, p, f"{name}.norm2"), p, f"{name}.mlp.0"))  # (E, B*T, ff*C)
    return h + _linear(hidden, p, f"{name}.mlp.2")


def _unit_rms(s: Tensor) -> Tensor:
    """Each clip of ``[E, B, D, T]`` divided by its RMS (as :meth:`resmix.models.two_stage.Stage.embed`)."""
    return s / s.float().pow(2).mean((2, 3), keepdim=True).sqrt().clamp_min(1e-6).to(s.dtype)


def stage_forward(p: dict[str, Tensor], prefix: str, streams: Sequence[Tensor], settings: ModelSettings,
                  n_layers: int, n_heads: int) -> Tensor:
    """One stage of every member, as :class:`resmix.models.two_stage.Stage`: ``k x [E, B, D, T] -> [E, B, D, T]``."""
    E, B, D, T = streams[0].shape
    rms = settings.rms_input.view(E, 1, 1, 1)
    streams = [torch.where(rms, _unit_rms(s), s) for s in streams]
    x = torch.cat(streams, dim=2).transpose(2, 3).reshape(E, B * T, -1)  # (E, B*T, k*D)
    h = _linear(x, p, f"{prefix}.inp")  # (E, B*T, C)
    C = h.shape[-1]
    pos = sinusoidal_positions(T, C).to(h.device, h.dtype)
    h = (h.view(E, B, T, C) + pos).view(E, B * T, C)
    for i in range(n_layers):
        h = _block(h, p, f"{prefix}.blocks.{i}", B, n_heads)
    out = _linear(_layer_norm(h, p, f"{prefix}.norm"), p, f"{prefix}.out")  # (E, B*T, D)
    out = settings.output_scale.to(out.dtype).view(E, 1, 1) * out
    return out.view(E, B, T, D).transpose(2, 3)  # (E, B, D, T)


def forward(p: dict[str, Tensor], input: Tensor, target: Tensor, settings: ModelSettings,
            n_layers: int, n_heads: int) -> StageOutputs:
    """Both stages of every member, as :meth:`resmix.models.two_stage.TwoStageModel.parts`: ``[E, B, D, T]`` in and out."""
    dtype = p["stage1.inp.weight"].dtype
    input, target = input.to(dtype), target.to(dtype)
    leaky = settings.leaky.view(-1, 1, 1, 1)
    branch1 = stage_forward(p, "stage1", (input, target), settings, n_layers, n_heads)
    output1 = torch.where(leaky, branch1 + 0.5 * (input + target), branch1)
    branch2 = stage_forward(p, "stage2", (input, output1, target), settings, n_layers, n_heads)
    output2 = torch.where(leaky, branch2 + (input + output1 + target) / 3, branch2)
    return StageOutputs(branch1, output1, branch2, output2)


def initial_rows(cfgs: Sequence[ModelConfig], seeds: Sequence[int]) -> tuple[Layout, Tensor]:  # (E, P)
    """The untrained parameters of each member, ``[E, P]``: exactly what ``TwoStageModel(cfg)`` draws
    after ``torch.manual_seed(seed)`` (the global generator is left as the last member's draw leaves it)."""
    rows, layout = [], None
    for cfg, seed in zip(cfgs, seeds):
        torch.manual_seed(seed)
        model = TwoStageModel(cfg)
        layout = layout or Layout.of(model)
        rows.append(layout.flatten(dict(model.named_parameters())))
    return layout, torch.stack(rows)


def member_model(cfg: ModelConfig, layout: Layout, row: Tensor) -> TwoStageModel:
    """A :class:`TwoStageModel` holding one member's parameters ``row`` ``[P]`` (on ``row``'s device)."""
    model = TwoStageModel(cfg).to(row.device)
    model.load_state_dict(layout.unflatten(row.detach()), strict=True)
    return model
