"""The training objective: every term weighted per member, the variance hinge, and the epsilon pull.

:func:`compute_losses` weights the terms (:mod:`resmix.losses.correlation`,
:mod:`resmix.losses.reconstruction` and the hinge here) by a :class:`~resmix.config.LossConfig` and
reports each term separately. A cohort (:mod:`resmix.training.cohort`) computes the same terms for
``E`` runs at once, each with its own settings (:class:`LossTable`), on ``[E, B, D, T]``:
:func:`cohort_losses`. The single-run function is that computation for one member.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from resmix._checks import check_same_shape
from resmix.config import LossConfig
from resmix.models.two_stage import StageOutputs

from .correlation import Eps, _anti_correlation, _novelty, _units
from .reconstruction import _mrstft, _mse, reconstruction_reference


def _variance_hinge(output: Tensor, target: Tensor, gamma: Eps, eps: float = 1e-4) -> Tensor:
    E, B = output.shape[:2]
    o, t = output.reshape(E, B, -1).float(), target.reshape(E, B, -1).float()
    gamma = gamma.view(-1, 1) if isinstance(gamma, Tensor) else gamma
    return F.relu(gamma * t.std(-1) - (o.var(-1) + eps).sqrt()).mean(-1)  # (E,)


def variance_hinge(output: Tensor, target: Tensor, gamma: float, eps: float = 1e-4) -> Tensor:
    """``relu(gamma * std(target) - sqrt(var(output) + eps))``, batch mean (VICReg, arXiv:2105.04906).

    Zero once the output is at least ``gamma`` times as varied as the target: it
    forbids silence and constants without asking for any particular content.
    """
    check_same_shape("[B, D, T]", output=output, target=target)
    return _variance_hinge(output.unsqueeze(0), target.unsqueeze(0), gamma, eps)[0]


@dataclass
class LossTerms:
    """Each unweighted term and the weighted total (scalar tensors; ``[E]`` for a cohort)."""

    anti_correlation: Tensor
    novelty: Tensor
    reconstruction: Tensor
    variance: Tensor
    total: Tensor

    def items(self) -> dict[str, Tensor]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class LossTable:
    """The loss settings of each member of a cohort: weights and epsilons ``[E]``, and each discrete choice.

    Built from the members' :class:`~resmix.config.LossConfig` (``LossTable.of``); ``LossTable.select``
    keeps some members (when others finish or fail).
    """

    anti_correlation: Tensor
    novelty: Tensor
    reconstruction: Tensor
    variance: Tensor
    variance_gamma: Tensor
    eps: Tensor
    corr_axes: tuple[str, ...]
    max_lag: tuple[int, ...]  # each member's lag window in samples (0: zero lag only)
    novelty_kind: tuple[str, ...]  # "<reduce>/<refs>" of each member's novelty term
    recon_reference: tuple[str, ...]
    # what each member's reconstruction term computes: "mse", "mrstft", or "" (an STFT term at
    # weight zero is skipped: it is the dearest term; the MSE is cheap and always reported)
    recon_computed: tuple[str, ...]

    @classmethod
    def of(cls, cfgs: Sequence[LossConfig], device: torch.device | str = "cpu", sample_rate: int = 8000) -> "LossTable":
        col = lambda name: torch.tensor([float(getattr(c, name)) for c in cfgs], device=device)  # noqa: E731
        return cls(*(col(n) for n in ("anti_correlation", "novelty", "reconstruction", "variance",
                                      "variance_gamma", "eps")),
                   tuple(c.corr_axes for c in cfgs), tuple(round(c.corr_lag_seconds * sample_rate) for c in cfgs),
                   tuple(f"{c.novelty_reduce}/{c.novelty_refs}" for c in cfgs),
                   tuple(c.recon_reference for c in cfgs),
                   tuple("" if c.recon_kind == "mrstft" and c.reconstruction == 0 else c.recon_kind for c in cfgs))

    def select(self, idx: Sequence[int]) -> "LossTable":
        i = torch.as_tensor(list(idx), dtype=torch.long, device=self.eps.device)
        return LossTable(*(getattr(self, f.name)[i] for f in fields(self)[:6]),
                         *(tuple(getattr(self, f.name)[j] for j in idx) for f in fields(self)[6:]))


def _per_group(values: tuple, fn, E: int, device) -> Tensor:
    """``fn(value, idx)`` for each group of members sharing a value, gathered into one ``[E]`` (or ``[E, ...]``).

    Every group goes through ``index_select`` and ``index_copy``, even when all members share one
    value: the backward graph of a member is then the same in any cohort, so its gradients are
    summed in the same order and its numbers do not depend on the other members.
    """
    out = None
    for value in dict.fromkeys(values):
        idx = torch.tensor([i for i, v in enumerate(values) if v == value], device=device)
        part = fn(value, idx)
        out = part.new_zeros((E, *part.shape[1:])) if out is None else out
        out = out.index_copy(0, idx, part)
    return out


def cohort_losses(parts: StageOutputs, input: Tensor, target: Tensor, table: LossTable,
                  sample_rate: int) -> LossTerms:
    """Every member's loss terms on its final output, as :func:`compute_losses`: ``[E, B, D, T] -> [E]`` each.

    Members that share a discrete setting (correlation axes, reconstruction kind and reference)
    are computed together; nothing mixes members.
    """
    out, E, dev = parts.output2, input.shape[0], input.device
    sub = lambda t, idx: t.index_select(0, idx)  # noqa: E731

    def correlation_terms(kind, idx):
        axes, lag, reduce, refs = kind
        o, eps = sub(out, idx), sub(table.eps, idx)
        ac = _anti_correlation(o, sub(target, idx), eps, axes, lag)
        references = [sub(input, idx)] + ([sub(parts.output1, idx)] if refs == "input+output1" else [])
        nov = _novelty(o, references, eps, axes, reduce, lag)
        return torch.stack([ac, nov], -1)  # (e, 2)

    kinds = tuple((a, lag, *n.split("/")) for a, lag, n in zip(table.corr_axes, table.max_lag, table.novelty_kind))
    ac, nov = _per_group(kinds, correlation_terms, E, dev).unbind(-1)
    reference = _per_group(table.recon_reference,
                           lambda r, idx: reconstruction_reference(sub(input, idx), sub(target, idx), r), E, dev)
    def recon(kind, idx):
        o, r = sub(out, idx), sub(reference, idx)
        if kind == "mse":
            return _mse(o, r)
        return _mrstft(o, r, sample_rate) if kind else o.new_zeros(o.shape[0], dtype=torch.float32)

    rec = _per_group(table.recon_computed, recon, E, dev)
    var = _variance_hinge(out, target, table.variance_gamma)
    total = (table.anti_correlation * ac + table.novelty * nov + table.reconstruction * rec
             + table.variance * var)
    return LossTerms(ac, nov, rec, var, total)


@torch.no_grad()
def epsilon_pull(output: Tensor, target: Tensor, table: LossTable) -> tuple[Tensor, Tensor]:
    """Where each member's output stands against its epsilon: ``(ratio, pull)``, each ``[E]``.

    ``ratio = eps / mean_u(s_o,u s_t,u)`` over the units ``u`` of the member's correlations
    (:func:`~resmix.losses.correlation.correlations`' axes), the *epsilon ratio*: an output ``g * u`` at ``eps`` trains as ``u``
    at ``eps / g``, so it is this ratio, not ``eps`` alone, that decides whether the penalties pull
    the level down. ``pull = mean_u eps / (s_o,u s_t,u + eps)``, the share of
    ``d log|rho_eps| / d log s`` that shrinking removes: 0 when ``eps << s``, 1 for silence.
    """
    def scales(axes, idx):
        o, t = (_units(x.index_select(0, idx), axes) for x in (output, target))  # (e, U, M)
        s = o.std(-1, unbiased=False) * t.std(-1, unbiased=False)  # (e, U)
        eps = table.eps.index_select(0, idx).view(-1, 1)
        return torch.stack([eps[:, 0] / s.mean(-1), (eps / (s + eps)).mean(-1)], -1)  # (e, 2)

    ratio, pull = _per_group(table.corr_axes, scales, output.shape[0], output.device).unbind(-1)
    return ratio, pull


def compute_losses(parts: StageOutputs, input: Tensor, target: Tensor, cfg: LossConfig,
                   sample_rate: int) -> LossTerms:
    """All loss terms on the final output ``parts.output2``; novelty also against ``output1``.

    The correlations of the anti-correlation and novelty terms are over ``cfg.corr_axes``.

    Terms whose weight is zero are still computed and reported (they are cheap
    and show what the optimiser ignores), except the STFT reconstruction,
    which is skipped at weight zero.
    """
    one = StageOutputs(*(t.unsqueeze(0) for t in (parts.branch1, parts.output1, parts.branch2, parts.output2)))
    table = LossTable.of([cfg], input.device, sample_rate)
    terms = cohort_losses(one, input.unsqueeze(0), target.unsqueeze(0), table, sample_rate)
    return LossTerms(*(t[0] for t in terms.items().values()))
