"""Training losses: anti-correlation, novelty, reconstruction and a variance hinge.

Every loss takes model tensors ``[B, D, T]`` (the reconstruction and the hinge also accept
waveforms ``[B, N]``) and returns a scalar. :func:`compute_losses` weights them by a
:class:`~resmix.config.LossConfig` and reports each term separately.

A cohort (:mod:`resmix.cohort`) computes the same terms for ``E`` runs at once, each with its
own settings (:class:`LossTable`), on ``[E, B, D, T]``: :func:`cohort_losses`. The single-run
functions are that computation for one member, so there is one definition of every term.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ._checks import check_same_shape, check_sample_rate
from .config import CORR_AXES, LossConfig
from .data import unframe
from .models import StageOutputs

Eps = float | Tensor  # one epsilon, or one per member ``[E]``


def _pearson_rows(a: Tensor, b: Tensor, eps: Eps) -> Tensor:
    """Pearson correlation of each row, ``cov / (s_a s_b + eps)``: ``[E, U, M] -> [E, U]``."""
    a = a - a.mean(-1, keepdim=True)
    b = b - b.mean(-1, keepdim=True)
    cov = (a * b).mean(-1)
    return cov / (a.pow(2).mean(-1).sqrt() * b.pow(2).mean(-1).sqrt() + eps)


def _units(x: Tensor, axes: str) -> Tensor:
    """The values each correlation of ``axes`` runs over, as rows: ``[E, B, ...] -> [E, U, M]``."""
    E, B = x.shape[:2]
    if axes == "clip":
        return x.reshape(E, B, -1).float()  # (E, B, D*T)
    if axes == "frame":
        if x.ndim != 4:
            raise ValueError(f"per-frame correlations need model tensors [B, D, T]; got {list(x.shape[1:])}")
        D, T = x.shape[2:]
        return x.transpose(2, 3).reshape(E, B * T, D).float()  # (E, B*T, D): a frame per row
    if axes == "batch":
        return x.reshape(E, 1, -1).float()  # (E, 1, B*D*T)
    raise ValueError(f"axes must be one of {', '.join(map(repr, CORR_AXES))}; got {axes!r}")


def _member_eps(eps: Eps) -> Eps:
    return eps.view(-1, 1) if isinstance(eps, Tensor) else eps  # (E, 1) against (E, U)


def member_correlations(a: Tensor, b: Tensor, eps: Eps, axes: str = "clip", max_lag: int = 0) -> Tensor:
    """:func:`correlations` of every member: ``[E, B, D, T] -> [E, U]`` (``eps``: one, or ``[E]``).

    ``max_lag > 0`` (``axes="clip"`` only): each clip's ``max_{|k| <= max_lag} |cov_k| / (s_a s_b + eps)``
    with ``cov_k = mean_t a'[t] b'[t - k]`` over the unframed waveforms (zero outside the clip):
    the largest correlation within the lag window, as :func:`~resmix.metrics.lagged_correlation`
    measures it, with the penalty's epsilon. Lag 0 is Pearson's ``cov``.
    """
    check_same_shape("[E, B, D, T]", a=a, b=b)
    if max_lag == 0:
        return _pearson_rows(_units(a, axes), _units(b, axes), _member_eps(eps))
    if axes != "clip":
        raise ValueError(f"lagged correlations run along a clip: axes must be 'clip'; got {axes!r}")
    wa, wb = (_waves(x).float() for x in (a, b))  # (E, B, N)
    wa, wb = wa - wa.mean(-1, keepdim=True), wb - wb.mean(-1, keepdim=True)
    N = wa.shape[-1]
    size = 1 << (2 * N - 1).bit_length()  # zero padding: linear, not circular, correlation
    xc = torch.fft.irfft(torch.fft.rfft(wa, size) * torch.fft.rfft(wb, size).conj(), size)  # (E, B, size)
    lags = torch.arange(-max_lag, max_lag + 1, device=wa.device) % size
    cov = xc[..., lags] / N  # (E, B, 2 max_lag + 1)
    s = wa.pow(2).mean(-1).sqrt() * wb.pow(2).mean(-1).sqrt()  # (E, B)
    return cov.abs().amax(-1) / (s + _member_eps(eps))


def correlations(a: Tensor, b: Tensor, eps: float, axes: str = "clip") -> Tensor:
    """Pearson correlations ``cov / (s_a s_b + eps)`` over the units ``axes`` names: ``[B, D, T] -> [U]``.

    ``"clip"`` and ``"batch"`` also take any ``[B, ...]`` (waveforms ``[B, N]``).

    - ``"clip"``: one per clip over its ``D x T`` values, ``U = B`` (as :func:`~resmix.metrics.pearson`);
    - ``"frame"``: one per frame over its ``D`` samples, ``U = B * T`` (means, standard deviations
      and covariance all per frame, so ``eps`` meets each frame's ``s_a s_b``);
    - ``"batch"``: one pooled over all ``B x D x T`` values (one mean for the whole batch), ``U = 1``.

    With ``eps = 0`` a unit where either signal is constant gives NaN (0/0); ``"frame"`` has
    the most such units (a silent frame is enough).
    """
    check_same_shape("[B, D, T]", a=a, b=b)
    return member_correlations(a.unsqueeze(0), b.unsqueeze(0), eps, axes)[0]


def _anti_correlation(output: Tensor, target: Tensor, eps: Eps, axes: str, max_lag: int = 0) -> Tensor:
    return member_correlations(output, target, eps, axes, max_lag).abs().mean(-1)  # (E,)


def _novelty(output: Tensor, references: Sequence[Tensor], eps: Eps, axes: str, reduce: str = "max",
             max_lag: int = 0) -> Tensor:
    if not references:
        raise ValueError("novelty needs at least one reference tensor")
    rho = torch.stack([member_correlations(output, r, eps, axes, max_lag).abs() for r in references])  # (R, E, U)
    if reduce == "max":
        return rho.max(0).values.mean(-1)  # (E,)
    if reduce == "mean":
        return rho.mean(0).mean(-1)
    raise ValueError(f"reduce must be 'max' or 'mean'; got {reduce!r}")


def anti_correlation(output: Tensor, target: Tensor, eps: float, axes: str = "clip") -> Tensor:
    """``mean_u |rho_u(output, target)|`` over the units of :func:`correlations` (``axes``).

    ``rho_u = cov_u / (s_o,u s_t,u + eps)``; with ``axes="clip"`` the batch mean of the per-clip absolute Pearson correlation.
    """
    check_same_shape("[B, D, T]", output=output, target=target)
    return _anti_correlation(output.unsqueeze(0), target.unsqueeze(0), eps, axes)[0]


def novelty(output: Tensor, references: Sequence[Tensor], eps: float, axes: str = "clip",
            reduce: str = "max") -> Tensor:
    """``mean_u max_r |rho_u(output, r)|``: penalises copying any reference, per unit of ``axes``
    (``reduce="mean"``: the mean over the references instead of their maximum)."""
    return _novelty(output.unsqueeze(0), [r.unsqueeze(0) for r in references], eps, axes, reduce)[0]


def stft_resolutions(sample_rate: int) -> list[tuple[int, int, int]]:
    """``(n_fft, hop, win)`` of Parallel WaveGAN's three resolutions, scaled from 24 kHz.

    Yamamoto et al. 2020 (arXiv:1910.11480) use (1024, 120, 600), (2048, 240, 1200)
    and (512, 50, 240) at 24 kHz; windows and hops scale with the sample rate, and
    n_fft is the next power of two at or above the window.
    """
    scale = sample_rate / 24000
    out = []
    for hop, win in ((120, 600), (240, 1200), (50, 240)):
        w, h = max(16, round(win * scale)), max(4, round(hop * scale))
        out.append((1 << (w - 1).bit_length(), h, w))
    return out


def _waves(x: Tensor) -> Tensor:
    """Members' clips as waveforms: ``[E, B, D, T]`` or ``[E, B, N]`` -> ``[E, B, N]``."""
    if x.ndim == 4:
        E, B, D, T = x.shape
        return x.transpose(2, 3).reshape(E, B, D * T)  # unframe, per member
    return x


def _mrstft(output: Tensor, target: Tensor, sample_rate: int) -> Tensor:
    """:func:`mrstft_loss` of every member: ``[E, B, N]`` (or ``[E, B, D, T]``) -> ``[E]``."""
    x, y = _waves(output).float(), _waves(target).float()
    E, B, N = x.shape
    total = x.new_zeros(E)
    resolutions = stft_resolutions(sample_rate)
    for n_fft, hop, win in resolutions:
        if N < win:
            raise ValueError(f"signals of {N} samples are shorter than the STFT window {win}")
        window = torch.hann_window(win, device=x.device)
        X, Y = (torch.stft(s.reshape(E * B, N), n_fft, hop, win, window, return_complex=True).abs().clamp_min(1e-7)
                for s in (x, y))  # (E*B, F, frames)
        sc = torch.linalg.norm(Y - X, dim=(1, 2)) / torch.linalg.norm(Y, dim=(1, 2))  # (E*B,)
        log = (Y.log() - X.log()).abs().reshape(E, -1).mean(-1)  # (E,)
        total = total + sc.view(E, B).mean(-1) + log
    return total / len(resolutions)


def mrstft_loss(output: Tensor, target: Tensor, sample_rate: int) -> Tensor:
    """Multi-resolution STFT loss: spectral convergence plus mean absolute log-magnitude difference.

    Zero for identical signals and blind to phase (a sign flip costs nothing).
    Shape: waveforms ``[B, N]`` or model tensors ``[B, D, T]``.
    """
    check_same_shape("[B, N]", output=output, target=target)
    check_sample_rate(sample_rate)  # 0 or negative scaled every window to its 16-sample floor
    x = unframe(output) if output.ndim == 3 else output
    y = unframe(target) if target.ndim == 3 else target
    return _mrstft(x.unsqueeze(0), y.unsqueeze(0), sample_rate)[0]


def _mse(output: Tensor, target: Tensor) -> Tensor:
    E = output.shape[0]
    return (output.float() - target.float()).pow(2).reshape(E, -1).mean(-1)  # (E,)


def reconstruction(output: Tensor, target: Tensor, kind: str, sample_rate: int) -> Tensor:
    """``kind="mse"``: waveform mean squared error; ``kind="mrstft"``: :func:`mrstft_loss`."""
    check_same_shape("[B, D, T]", output=output, target=target)
    if kind == "mse":
        return _mse(output.unsqueeze(0), target.unsqueeze(0))[0]
    if kind == "mrstft":
        return mrstft_loss(output, target, sample_rate)
    raise ValueError(f"kind must be 'mse' or 'mrstft'; got {kind!r}")


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


def reconstruction_reference(input: Tensor, target: Tensor, reference: str) -> Tensor:
    """What the reconstruction term matches, ``[B, D, T]`` (or ``[E, B, D, T]``).

    ``"target"``: the target itself. ``"negated"``: ``-target``. ``"product"``: the sample-wise
    product ``input * target`` rescaled per clip to the target's RMS; for independent
    zero-mean input and target it is uncorrelated with both, so no mix of them carries any of
    it, yet each output sample depends only on the two inputs at that sample. ``"difference"``:
    ``(input - target) / sqrt(2)``, a linear map of the inputs that for independent clips of equal
    RMS is uncorrelated with the leaky residual ``(input + target) / 2``.
    """
    if reference == "target":
        return target
    if reference == "negated":
        return -target
    if reference == "difference":
        return (input - target) / math.sqrt(2)
    if reference == "allpass":
        return allpass(target)
    if reference == "product":
        p = input * target
        clip = (-2, -1)
        scale = target.pow(2).mean(clip, keepdim=True).sqrt() / p.pow(2).mean(clip, keepdim=True).sqrt().clamp_min(1e-12)
        return p * scale
    raise ValueError(f"reference must be one of 'target', 'negated', 'difference', 'product', 'allpass'; got {reference!r}")


ALLPASS_SEED = 0  # the all-pass filter's phases: one fixed draw, the same for every clip and run


def allpass(x: Tensor) -> Tensor:
    """Each clip through one fixed all-pass filter with random phases: ``[..., D, T] -> [..., D, T]``.

    The phase of every Fourier coefficient of the unframed clip is shifted by a draw uniform in
    ``[0, 2 pi)`` (seed ``ALLPASS_SEED``; DC and Nyquist stay real), so the result has exactly the clip's
    magnitude spectrum and, its impulse response being spread over the whole clip, next to no
    correlation with it at any small lag: a deterministic, learnable "meaningful but not copied" target.
    """
    lead, (D, T) = x.shape[:-2], x.shape[-2:]
    w = x.transpose(-1, -2).reshape(*lead, D * T).float()  # unframe
    N = D * T
    gen = torch.Generator().manual_seed(ALLPASS_SEED)
    phase = torch.rand(N // 2 + 1, generator=gen, dtype=torch.float64) * 2 * math.pi
    phase[0] = 0.0
    if N % 2 == 0:
        phase[-1] = 0.0
    rot = torch.polar(torch.ones_like(phase), phase).to(torch.complex64).to(w.device)
    out = torch.fft.irfft(torch.fft.rfft(w) * rot, N)
    return out.reshape(*lead, T, D).transpose(-1, -2).to(x.dtype)


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
    (:func:`correlations`' axes), the *epsilon ratio*: an output ``g * u`` at ``eps`` trains as ``u``
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
