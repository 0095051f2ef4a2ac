"""AdamW over a cohort's stacked parameters: each member with its own learning rate, decay and clipping.

A member with ``TrainConfig.optimizer="adam"`` steps as torch's ``Adam`` instead: its weight decay
is an L2 term ``wd * w`` added to the gradient (after clipping), not a decoupled shrink.

The parameters of ``E`` members live in one flat buffer (:class:`~resmix.models.stacked.Stacked`), so one
AdamW step is a handful of element-wise operations over all members at once, each member's
settings spread over its coordinates once (:meth:`~resmix.models.stacked.Stacked.expand`). The
arithmetic is torch's ``AdamW`` (single-tensor path; Loshchilov & Hutter 2019, arXiv:1711.05101)::

    w <- w * (1 - lr * wd)
    m <- lerp(m, g, 1 - beta1);  v <- beta2 * v + (1 - beta2) * g^2
    w <- w - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

and gradient clipping is torch's ``clip_grad_norm_`` per member: each member's gradient is scaled
by ``min(1, clip / (||g|| + 1e-6))``, ``||g||`` the norm of its parameters' norms.
``tests/training/test_adamw.py`` checks both against torch, with the parameter groups of
:func:`resmix.measure.dynamics.make_optimizer`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from resmix.config import TrainConfig
from resmix.models.stacked import Stacked

BETAS = (0.9, 0.999)  # torch's AdamW defaults, which every run of the study uses
EPS = 1e-8


@dataclass
class AdamWState:
    """The optimizer state of each member: moments (stacks like the parameters) and steps taken (Python ints)."""

    exp_avg: Stacked
    exp_avg_sq: Stacked
    steps: list[int]

    @classmethod
    def zeros(cls, params: Stacked) -> "AdamWState":
        return cls(params.like(), params.like(), [0] * params.E)

    def select(self, idx: Tensor) -> "AdamWState":
        return AdamWState(self.exp_avg.select(idx), self.exp_avg_sq.select(idx), [self.steps[i] for i in idx.tolist()])


class CohortAdamW:
    """AdamW for the members of ``params``, member ``e`` with ``cfgs[e]``'s lr, weight decay, decay targets and clip.

    Args:
        params: the members' parameters (updated in place).
        cfgs: each member's :class:`~resmix.config.TrainConfig`.
        vectors: indices (in the layout) of the biases and LayerNorm parameters, which
            ``decay="weights"`` leaves undecayed.
    """

    def __init__(self, params: Stacked, cfgs: Sequence[TrainConfig], vectors: Sequence[int],
                 state: AdamWState | None = None):
        self.params, self.cfgs, self.vectors = params, list(cfgs), list(vectors)
        self.state = state or AdamWState.zeros(params)
        self._spread()

    def _spread(self) -> None:
        """Each member's settings over its coordinates, and the step's buffers (reused every step)."""
        p, dev = self.params, self.params.flat.device
        self.clip = torch.tensor([c.grad_clip for c in self.cfgs], device=dev)  # (E,)
        adamw = [c.optimizer == "adamw" for c in self.cfgs]
        decay = p.like(p.expand(torch.tensor([1 - c.lr * c.weight_decay if w else 1.0
                                              for c, w in zip(self.cfgs, adamw)], device=dev)))
        # Adam's weight decay: an L2 term wd * w added to the gradient (torch.optim.Adam)
        l2 = p.like(p.expand(torch.tensor([0.0 if w else c.weight_decay for c, w in zip(self.cfgs, adamw)], device=dev)))
        weights_only = torch.tensor([c.decay == "weights" for c in self.cfgs], device=dev)
        for i in self.vectors:  # no decay on the vectors of members that decay weights only
            decay.blocks()[i][weights_only] = 1.0
            l2.blocks()[i][weights_only] = 0.0
        self.decay = decay.flat
        self.l2 = l2.flat if not all(adamw) else None
        # preallocated: a step's temporaries are as large as the parameters, and allocating them
        # afresh every step costs page faults that take longer than the arithmetic
        self.grad = p.like()
        self._denom, self._update = torch.empty_like(p.flat), torch.empty_like(p.flat)
        self._l2_grad = torch.empty_like(p.flat) if self.l2 is not None else None

    def select(self, idx: Tensor, params: Stacked) -> None:
        """Keep only the members ``idx``; ``params`` are the kept members' parameters."""
        self.params, self.state = params, self.state.select(idx)
        self.cfgs = [self.cfgs[i] for i in idx.tolist()]
        self._spread()

    @torch.no_grad()
    def clip_(self, grad: Stacked) -> Tensor:
        """Scale each member's gradient to norm at most its ``grad_clip`` (0: no clipping), in place.

        Returns each member's gradient norm of each parameter ``[E, n_params]``, before clipping.
        Every reduction runs along a member's own contiguous row, so its rounding is the same in
        any cohort (a reduction across the member axis would be summed differently for E = 1).
        """
        norms = torch.stack([torch.linalg.vector_norm(b, dim=1) for b in grad.blocks()], dim=1)  # (E, n_params)
        total = torch.linalg.vector_norm(norms, dim=1)  # (E,)
        coef = ((total + 1e-6).reciprocal() * self.clip).clamp(max=1.0)  # torch's max_norm / (norm + 1e-6)
        coef = torch.where(self.clip > 0, coef, torch.ones_like(coef)).view(-1, 1)
        for b in grad.blocks():
            b.mul_(coef)
        return norms

    @torch.no_grad()
    def step(self, grad: Stacked) -> None:
        """One AdamW step of every member with the gradients ``grad`` (``self.grad`` is a buffer for them)."""
        b1, b2 = BETAS
        s, p, g = self.state, self.params.flat, grad.flat
        s.steps = [t + 1 for t in s.steps]
        dev = p.device
        # -(lr / (1 - beta1^t)) per member, rounded to float32 as torch rounds its scalar; applied to each
        # parameter's block [E, n] as a column [E, 1] (no [E * P] copy of it is made: that cost a step 8 ms)
        step_size = torch.tensor([-c.lr / (1 - b1 ** t) for c, t in zip(self.cfgs, s.steps)], device=dev).view(-1, 1)
        p.mul_(self.decay)
        if self.l2 is not None:  # Adam members: g + wd * w, as torch.optim.Adam (AdamW members: + 0 * w)
            g = torch.addcmul(g, p, self.l2, out=self._l2_grad)
        s.exp_avg.flat.lerp_(g, 1 - b1)
        s.exp_avg_sq.flat.mul_(b2).addcmul_(g, g, value=1 - b2)
        denom = torch.sqrt(s.exp_avg_sq.flat, out=self._denom)
        if len(set(s.steps)) == 1:  # the usual case: every member took as many steps
            denom.div_(math.sqrt(1 - b2 ** s.steps[0]))
        else:  # members resumed at different epochs: their bias corrections differ
            bc2_sqrt = torch.tensor([math.sqrt(1 - b2 ** t) for t in s.steps], device=dev).view(-1, 1)
            for block in self.params.like(denom).blocks():
                block.div_(bc2_sqrt)
        denom.add_(EPS)
        update = self.params.like(self._update)
        for m, u in zip(s.exp_avg.blocks(), update.blocks()):
            torch.mul(step_size, m, out=u)
        p.add_(update.flat.div_(denom))  # torch's addcdiv, in its order

    @torch.no_grad()
    def update_rms(self, which: Sequence[int]) -> list[float]:
        """Each member's RMS of the normalised update ``m_hat / (sqrt(v_hat) + eps)`` over the parameters
        ``which`` (as :func:`resmix.measure.dynamics.adam_update_rms`; ``nan`` before the first step)."""
        b1, b2 = BETAS
        s = self.state
        if not which:
            return [float("nan")] * len(s.steps)
        m_blocks, v_blocks = s.exp_avg.blocks(), s.exp_avg_sq.blocks()
        count = sum(m_blocks[i].shape[1] for i in which)
        out = []
        for e, t in enumerate(s.steps):  # member by member, each over its own 1-D values: as Stacked.row_sums
            total = 0.0
            for i in which:
                m = m_blocks[i][e].double() / (1 - b1 ** t)
                v = v_blocks[i][e].double() / (1 - b2 ** t)
                total = total + (m / (v.sqrt() + EPS)).pow(2).sum()
            out.append(float((total / count).sqrt()) if t else float("nan"))
        return out
