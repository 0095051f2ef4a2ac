"""AdamW over a cohort's stacked parameters: each member with its own learning rate, decay and clipping.

The parameters of ``E`` members are the rows of one tensor ``[E, P]`` (:mod:`resmix.stacked`), so
one AdamW step is a handful of element-wise operations over all members at once, with each
member's settings as ``[E, 1]`` columns. The arithmetic is torch's ``AdamW`` (single-tensor
path) written for rows (Loshchilov & Hutter 2019, arXiv:1711.05101)::

    w <- w * (1 - lr * wd)
    m <- lerp(m, g, 1 - beta1);  v <- beta2 * v + (1 - beta2) * g^2
    w <- w - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

``tests/test_adamw.py`` checks it against ``torch.optim.AdamW`` with the parameter groups of
:func:`resmix.dynamics.make_optimizer`. Gradient clipping is per member: each row's gradient
is scaled by ``min(1, clip / (||g|| + 1e-6))`` as ``torch.nn.utils.clip_grad_norm_`` does.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from .config import TrainConfig

BETAS = (0.9, 0.999)  # torch's AdamW defaults, which every run of the study uses
EPS = 1e-8


@dataclass
class AdamWState:
    """The optimizer state of each member: moments ``[E, P]`` and steps taken ``[E]`` (Python ints)."""

    exp_avg: Tensor
    exp_avg_sq: Tensor
    steps: list[int]

    @classmethod
    def zeros(cls, params: Tensor) -> "AdamWState":
        return cls(torch.zeros_like(params), torch.zeros_like(params), [0] * params.shape[0])

    def select(self, idx: Tensor) -> "AdamWState":
        return AdamWState(self.exp_avg[idx], self.exp_avg_sq[idx], [self.steps[i] for i in idx.tolist()])


class CohortAdamW:
    """AdamW for the rows of ``params`` ``[E, P]``, member ``e`` with ``cfgs[e]``'s lr, weight decay and clip.

    Args:
        params: the members' parameters ``[E, P]`` (updated in place).
        cfgs: each member's :class:`~resmix.config.TrainConfig`.
        vector_columns: the columns of biases and LayerNorm parameters (``[K]`` indices), which
            ``decay="weights"`` leaves undecayed.
    """

    def __init__(self, params: Tensor, cfgs: Sequence[TrainConfig], vector_columns: Tensor,
                 state: AdamWState | None = None):
        E, P = params.shape
        dev = params.device
        self.params = params
        self.state = state or AdamWState.zeros(params)
        self.lr = [c.lr for c in cfgs]
        self.clip = torch.tensor([c.grad_clip for c in cfgs], device=dev).view(E, 1)
        # w *= 1 - lr * wd, with wd = 0 on the vectors of members that decay weights only
        decay = torch.tensor([1 - c.lr * c.weight_decay for c in cfgs], device=dev).view(E, 1).expand(E, P).clone()
        weights_only = torch.tensor([c.decay == "weights" for c in cfgs], device=dev)
        rows = weights_only.nonzero().flatten()
        if len(rows) and len(vector_columns):
            decay[rows[:, None], vector_columns.to(dev)[None, :]] = 1.0
        self.decay = decay  # (E, P)

    def select(self, idx: Tensor) -> None:
        """Keep only the members ``idx`` (the caller selects the parameters' rows the same way)."""
        self.state = self.state.select(idx)
        self.lr = [self.lr[i] for i in idx.tolist()]
        self.clip, self.decay = self.clip[idx], self.decay[idx]

    @torch.no_grad()
    def clip_(self, grad: Tensor) -> None:
        """Scale each member's gradient row to norm at most its ``grad_clip`` (0: no clipping), in place."""
        norm = grad.norm(dim=1, keepdim=True)  # (E, 1)
        coef = (self.clip / (norm + 1e-6)).clamp(max=1.0)
        grad.mul_(torch.where(self.clip > 0, coef, torch.ones_like(coef)))

    @torch.no_grad()
    def step(self, grad: Tensor) -> None:
        """One AdamW step of every member with the gradients ``grad`` ``[E, P]``."""
        b1, b2 = BETAS
        s = self.state
        s.steps = [t + 1 for t in s.steps]
        dev = self.params.device
        bc1 = [1 - b1 ** t for t in s.steps]
        step_size = torch.tensor([-lr / c for lr, c in zip(self.lr, bc1)], device=dev).view(-1, 1)
        bc2_sqrt = torch.tensor([math.sqrt(1 - b2 ** t) for t in s.steps], device=dev).view(-1, 1)
        self.params.mul_(self.decay)
        s.exp_avg.lerp_(grad, 1 - b1)
        s.exp_avg_sq.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        denom = (s.exp_avg_sq.sqrt() / bc2_sqrt).add_(EPS)
        self.params.add_((step_size * s.exp_avg).div_(denom))

    @torch.no_grad()
    def update_rms(self, columns: Tensor) -> list[float]:
        """Each member's RMS of the normalised update ``m_hat / (sqrt(v_hat) + eps)`` over ``columns``
        (as :func:`resmix.dynamics.adam_update_rms`; ``nan`` before the first step)."""
        b1, b2 = BETAS
        s = self.state
        if not len(columns):
            return [float("nan")] * len(s.steps)
        t = torch.tensor(s.steps, dtype=torch.float64, device=self.params.device).view(-1, 1)
        m = s.exp_avg[:, columns].double() / (1 - b1 ** t)
        v = s.exp_avg_sq[:, columns].double() / (1 - b2 ** t)
        rms = (m / (v.sqrt() + EPS)).pow(2).mean(1).sqrt().tolist()
        return [r if steps else float("nan") for r, steps in zip(rms, s.steps)]
