"""Training losses: anti-correlation, novelty, reconstruction and a variance hinge.

Every loss takes model tensors ``[B, D, T]`` (the reconstruction also accepts
waveforms ``[B, N]``) and returns a scalar. :func:`compute_losses` weights them
by a :class:`~resmix.config.LossConfig` and reports each term separately.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ._checks import check_same_shape, check_sample_rate
from .config import LossConfig
from .data import unframe
from .metrics import pearson
from .models import StageOutputs


def correlations(a: Tensor, b: Tensor, eps: float, axes: str = "clip") -> Tensor:
    """Pearson correlations ``cov / (s_a s_b + eps)`` over the units ``axes`` names: ``[B, D, T] -> [U]``.

    ``"clip"`` and ``"batch"`` also take any ``[B, ...]`` (waveforms ``[B, N]``).

    - ``"clip"``: one per clip over its ``D x T`` values, ``U = B`` (:func:`~resmix.metrics.pearson`);
    - ``"frame"``: one per frame over its ``D`` samples, ``U = B * T`` (means, standard deviations
      and covariance all per frame, so ``eps`` meets each frame's ``s_a s_b``);
    - ``"batch"``: one pooled over all ``B x D x T`` values (one mean for the whole batch), ``U = 1``.

    With ``eps = 0`` a unit where either signal is constant gives NaN (0/0); ``"frame"`` has
    the most such units (a silent frame is enough).
    """
    check_same_shape("[B, D, T]", a=a, b=b)
    if axes == "clip":
        return pearson(a, b, eps, finite=False)  # (B,)
    if axes == "frame":
        if a.ndim != 3:
            raise ValueError(f"per-frame correlations need model tensors [B, D, T]; got {list(a.shape)}")
        a, b = (t.transpose(1, 2).reshape(-1, t.shape[1]) for t in (a, b))  # (B*T, D): a frame per row
        return pearson(a, b, eps, finite=False)  # (B*T,)
    if axes == "batch":
        return pearson(a.reshape(1, -1), b.reshape(1, -1), eps, finite=False)  # (1,)
    raise ValueError(f"axes must be one of 'clip', 'frame', 'batch'; got {axes!r}")


def anti_correlation(output: Tensor, target: Tensor, eps: float, axes: str = "clip") -> Tensor:
    """``mean_u |rho_u(output, target)|`` over the units of :func:`correlations` (``axes``).

    ``rho_u = cov_u / (s_o,u s_t,u + eps)``; with ``axes="clip"`` the batch mean of the per-clip absolute Pearson correlation.
    """
    return correlations(output, target, eps, axes).abs().mean()


def novelty(output: Tensor, references: Sequence[Tensor], eps: float, axes: str = "clip") -> Tensor:
    """``mean_u max_r |rho_u(output, r)|``: penalises copying any reference, per unit of ``axes``."""
    if not references:
        raise ValueError("novelty needs at least one reference tensor")
    rho = torch.stack([correlations(output, r, eps, axes).abs() for r in references])  # (R, U)
    return rho.max(0).values.mean()


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


def mrstft_loss(output: Tensor, target: Tensor, sample_rate: int) -> Tensor:
    """Multi-resolution STFT loss: spectral convergence plus mean absolute log-magnitude difference.

    Zero for identical signals and blind to phase (a sign flip costs nothing).
    Shape: waveforms ``[B, N]`` or model tensors ``[B, D, T]``.
    """
    check_same_shape("[B, N]", output=output, target=target)
    check_sample_rate(sample_rate)  # 0 or negative scaled every window to its 16-sample floor
    x = unframe(output) if output.ndim == 3 else output
    y = unframe(target) if target.ndim == 3 else target
    x, y = x.float(), y.float()
    total = x.new_zeros(())
    resolutions = stft_resolutions(sample_rate)
    for n_fft, hop, win in resolutions:
        if x.shape[-1] < win:
            raise ValueError(f"signals of {x.shape[-1]} samples are shorter than the STFT window {win}")
        window = torch.hann_window(win, device=x.device)
        X, Y = (torch.stft(s, n_fft, hop, win, window, return_complex=True).abs().clamp_min(1e-7)
                for s in (x, y))  # (B, F, frames)
        sc = torch.linalg.norm(Y - X, dim=(1, 2)) / torch.linalg.norm(Y, dim=(1, 2))
        total = total + sc.mean() + (Y.log() - X.log()).abs().mean()
    return total / len(resolutions)


def reconstruction(output: Tensor, target: Tensor, kind: str, sample_rate: int) -> Tensor:
    """``kind="mse"``: waveform mean squared error; ``kind="mrstft"``: :func:`mrstft_loss`."""
    check_same_shape("[B, D, T]", output=output, target=target)
    if kind == "mse":
        return F.mse_loss(output.float(), target.float())
    if kind == "mrstft":
        return mrstft_loss(output, target, sample_rate)
    raise ValueError(f"kind must be 'mse' or 'mrstft'; got {kind!r}")


def variance_hinge(output: Tensor, target: Tensor, gamma: float, eps: float = 1e-4) -> Tensor:
    """``relu(gamma * std(target) - sqrt(var(output) + eps))``, batch mean (VICReg, arXiv:2105.04906).

    Zero once the output is at least ``gamma`` times as varied as the target: it
    forbids silence and constants without asking for any particular content.
    """
    check_same_shape("[B, D, T]", output=output, target=target)
    o, t = output.reshape(output.shape[0], -1).float(), target.reshape(target.shape[0], -1).float()
    return F.relu(gamma * t.std(-1) - (o.var(-1) + eps).sqrt()).mean()


@dataclass
class LossTerms:
    """Each unweighted term and the weighted total (scalar tensors)."""

    anti_correlation: Tensor
    novelty: Tensor
    reconstruction: Tensor
    variance: Tensor
    total: Tensor

    def items(self) -> dict[str, Tensor]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def reconstruction_reference(input: Tensor, target: Tensor, reference: str) -> Tensor:
    """What the reconstruction term matches, ``[B, D, T]``.

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
    if reference == "product":
        p = input * target
        scale = target.pow(2).mean((1, 2), keepdim=True).sqrt() / p.pow(2).mean((1, 2), keepdim=True).sqrt().clamp_min(1e-12)
        return p * scale
    raise ValueError(f"reference must be one of 'target', 'negated', 'difference', 'product'; got {reference!r}")


def compute_losses(parts: StageOutputs, input: Tensor, target: Tensor, cfg: LossConfig,
                   sample_rate: int) -> LossTerms:
    """All loss terms on the final output ``parts.output2``; novelty also against ``output1``.

    The correlations of the anti-correlation and novelty terms are over ``cfg.corr_axes``.

    Terms whose weight is zero are still computed and reported (they are cheap
    and show what the optimiser ignores), except the STFT reconstruction,
    which is skipped at weight zero.
    """
    out = parts.output2
    ac = anti_correlation(out, target, cfg.eps, cfg.corr_axes)
    nov = novelty(out, [input, parts.output1], cfg.eps, cfg.corr_axes)
    if cfg.reconstruction > 0 or cfg.recon_kind == "mse":
        rec = reconstruction(out, reconstruction_reference(input, target, cfg.recon_reference), cfg.recon_kind, sample_rate)
    else:
        rec = out.new_zeros((), dtype=torch.float32)
    var = variance_hinge(out, target, cfg.variance_gamma)
    total = (cfg.anti_correlation * ac + cfg.novelty * nov + cfg.reconstruction * rec
             + cfg.variance * var)
    return LossTerms(ac, nov, rec, var, total)
