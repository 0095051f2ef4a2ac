"""Metrics and leak diagnostics. Pure functions of tensors, one value per batch item.

``rms``, ``pearson`` and ``leak_probe`` take any ``[B, ...]`` (waveforms ``[B, N]``
or model tensors ``[B, D, T]``): they flatten everything but the batch. The
spectral metrics take waveforms ``[B, N]``.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch
from torch import Tensor

from ._checks import check_same_shape, check_tensor


def _flat(x: Tensor, name: str, finite: bool = True) -> Tensor:
    if not isinstance(x, Tensor) or x.ndim < 2:
        raise ValueError(f"{name} must be a tensor [B, ...] with a batch dimension; got "
                         f"{list(x.shape) if isinstance(x, Tensor) else type(x).__name__}")
    check_tensor(x, name, x.ndim, "[B, ...]", finite=finite)
    return x.reshape(x.shape[0], -1).float()  # (B, M)


def rms(x: Tensor) -> Tensor:
    """Root mean square per item: ``[B, ...] -> [B]`` (the mean is included: DC counts)."""
    return _flat(x, "x").pow(2).mean(-1).sqrt()


def pearson(a: Tensor, b: Tensor, eps: float = 0.0, finite: bool = True) -> Tensor:
    """Pearson correlation per item, ``cov / (s_a * s_b + eps)``: ``[B, ...] x [B, ...] -> [B]``.

    With ``eps = 0`` a constant item gives NaN (0/0); with ``eps > 0`` the value is
    ``rho * s / (s + eps)`` for ``s = s_a * s_b``, which falls to 0 as either signal
    shrinks. Chapter 4 shows why that matters.
    """
    check_same_shape("[B, ...]", a=a, b=b)
    a, b = _flat(a, "a", finite), _flat(b, "b", finite)
    a = a - a.mean(-1, keepdim=True)
    b = b - b.mean(-1, keepdim=True)
    cov = (a * b).mean(-1)
    return cov / (a.pow(2).mean(-1).sqrt() * b.pow(2).mean(-1).sqrt() + eps)


def rms_ratio_db(output: Tensor, reference: Tensor) -> Tensor:
    """Level of ``output`` relative to ``reference`` in dB, ``20 log10(rms_out / rms_ref)``: ``[B]``."""
    return 20 * torch.log10(rms(output).clamp_min(1e-12) / rms(reference).clamp_min(1e-12))


def _power_frames(wave: Tensor, n_fft: int) -> Tensor:
    check_tensor(wave, "wave", 2, "[B, N]")
    if wave.shape[1] < n_fft:
        raise ValueError(f"wave must have at least n_fft={n_fft} samples [B, N]; got {list(wave.shape)}")
    window = torch.hann_window(n_fft, device=wave.device)
    spec = torch.stft(wave.float(), n_fft, hop_length=n_fft // 4, window=window, center=False,
                      return_complex=True)  # (B, F, frames)
    return spec.abs().pow(2)


def spectral_flatness(wave: Tensor, n_fft: int = 256) -> Tensor:
    """Geometric over arithmetic mean of the power spectrum, averaged over frames: ``[B, N] -> [B]``.

    0 for a pure tone (or silence and DC), near 1 for white noise (Dubnov 2004). The
    measure ignores level: each item is scaled to unit peak first (so a quiet or
    denormal-level signal scores as its loud copy), bins are floored 120 dB below that
    scale, and a frame with no power (silence) scores 0.
    """
    check_tensor(wave, "wave", 2, "[B, N]")
    w = wave.double()  # float64 holds float32 denormals as normal numbers: the scaling is exact
    peak = w.abs().amax(-1, keepdim=True)  # (B, 1)
    w = (w / peak.masked_fill(peak == 0, 1.0)).float()
    p = _power_frames(w, n_fft)  # (B, F, frames)
    silent = p.mean(1) <= 1e-12  # (B, frames): nothing above the floor
    p = p + 1e-12
    flatness = p.log().mean(1).exp() / p.mean(1)
    return torch.where(silent, torch.zeros_like(flatness), flatness).mean(-1)


def log_spectral_distance(output: Tensor, reference: Tensor, n_fft: int = 256,
                          floor_db: float = -80.0) -> Tensor:
    """``sqrt(mean_f (10 log10(P_ref / P_out))^2)`` averaged over frames, in dB: ``[B, N] -> [B]``.

    Both power spectra are floored at ``floor_db`` below the reference's peak power, so
    bins far below audibility (clean synthetic signals have many near-zero bins) do
    not dominate the distance.
    """
    check_same_shape("[B, N]", output=output, reference=reference)
    p, q = _power_frames(reference, n_fft), _power_frames(output, n_fft)
    floor = p.amax(dim=(1, 2), keepdim=True) * 10 ** (floor_db / 10) + 1e-20
    p, q = p.clamp_min(floor), q.clamp_min(floor)
    return (10 * torch.log10(p / q)).pow(2).mean(1).sqrt().mean(-1)


class DegenerateFitWarning(RuntimeWarning):
    """A leak-probe fit was degenerate for some items; their values are NaN."""


@dataclass
class LeakProbe:
    """Least-squares fit ``output ~ a*input + b*target + c``, per item (``[B]`` each).

    ``r2`` near 1 with ``a`` and ``b`` near 1/2 means the output is a mix of its
    inputs, not a transformation of them.
    """

    a: Tensor
    b: Tensor
    c: Tensor
    r2: Tensor

    def means(self) -> dict[str, float]:
        """The batch means of a, b, c and R^2 as floats."""
        return {k: float(getattr(self, k).mean()) for k in ("a", "b", "c", "r2")}


def leak_probe(output: Tensor, input: Tensor, target: Tensor) -> LeakProbe:
    """Fit ``output ~ a*input + b*target + c`` over all samples of each item.

    Degenerate fits give NaN, with a :class:`DegenerateFitWarning` naming the items
    and the reason, never a number that reads as a result: ``r2`` is NaN where the
    output is constant (nothing to explain), ``a``, ``b`` and ``c`` are NaN where the
    input, the target and a constant are linearly dependent (e.g. a constant input).
    Fewer than 4 samples per item (no residual left to judge the fit) is a ``ValueError``.

    Shape: each ``[B, ...]`` (same shape); returns :class:`LeakProbe` of ``[B]`` tensors.
    """
    check_same_shape("[B, ...]", output=output, input=input, target=target)
    y, x1, x2 = (_flat(t.detach(), n).double().cpu() for t, n in ((output, "output"), (input, "input"), (target, "target")))
    if y.shape[1] < 4:
        raise ValueError(f"leak_probe fits 3 coefficients, so it needs at least 4 samples per item "
                         f"[B, ...]; got {list(output.shape)}")
    X = torch.stack([x1, x2, torch.ones_like(x1)], dim=-1)  # (B, M, 3)
    fit = torch.linalg.lstsq(X, y.unsqueeze(-1))  # CPU default driver (gelsy) reports the rank
    coef = fit.solution.squeeze(-1)  # (B, 3)
    resid = y - (X @ coef.unsqueeze(-1)).squeeze(-1)
    ss_tot = (y - y.mean(-1, keepdim=True)).pow(2).sum(-1)
    r2 = 1 - resid.pow(2).sum(-1) / ss_tot.clamp_min(1e-300)
    constant = y.amax(-1) == y.amin(-1)  # (B,)
    dependent = fit.rank < 3  # (B,)
    r2[constant] = float("nan")
    coef[dependent] = float("nan")
    for mask, why in ((constant, "the output is constant, so R^2 is undefined"),
                      (dependent, "input, target and a constant are linearly dependent, so a, b, c "
                                  "are not identifiable")):
        if mask.any():
            warnings.warn(f"leak_probe: items {mask.nonzero().flatten().tolist()}: {why}; NaN returned",
                          DegenerateFitWarning, stacklevel=2)
    return LeakProbe(coef[:, 0].float(), coef[:, 1].float(), coef[:, 2].float(), r2.float())


def level_meter(level: float, width: int = 40, floor_db: float = -60.0) -> str:
    """A text bar for an RMS level: full at 0 dBFS, empty at ``floor_db``."""
    db = 20 * math.log10(max(level, 1e-12))
    filled = round(width * min(max((db - floor_db) / -floor_db, 0.0), 1.0))
    return "█" * filled + "·" * (width - filled)


def level_report(output: Tensor, input: Tensor, target: Tensor, label: str = "Output") -> str:
    """The seed's three-line report (meter, RMS levels, correlations) for batch means."""
    r_out, r_tgt = float(rms(output).mean()), float(rms(target).mean())
    c_t = float(pearson(output, target, eps=1e-12).mean())
    c_i = float(pearson(output, input, eps=1e-12).mean())
    ratio = r_tgt / max(r_out, 1e-12)
    how = f"{ratio:.0f}x quieter than target" if ratio >= 1 else f"{1 / ratio:.1f}x louder than target"
    return (f"{label:<7}: {level_meter(r_out)}\n"
            f"  RMS Levels:  {label}={r_out:.4f} ({how})\n"
            f"  Correlation: Out→Target={c_t:.3f}  Out→Input={c_i:.3f}")
