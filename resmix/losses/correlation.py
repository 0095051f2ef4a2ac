"""The correlation penalties: anti-correlation with the target and novelty against the inputs.

Each correlation is ``cov / (s_a s_b + eps)`` over the units ``LossConfig.corr_axes`` names (a clip,
a frame, or the whole batch), optionally the largest within a window of lags. The single-run
functions take ``[B, D, T]``; the member functions take a cohort's ``[E, B, D, T]``, each member
with its own epsilon, so there is one definition of every term.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from resmix._checks import check_same_shape
from resmix.config import CORR_AXES

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
    the largest correlation within the lag window, as :func:`~resmix.measure.metrics.lagged_correlation`
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

    - ``"clip"``: one per clip over its ``D x T`` values, ``U = B`` (as :func:`~resmix.measure.metrics.pearson`);
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



def _waves(x: Tensor) -> Tensor:
    """Members' clips as waveforms: ``[E, B, D, T]`` or ``[E, B, N]`` -> ``[E, B, N]``."""
    if x.ndim == 4:
        E, B, D, T = x.shape
        return x.transpose(2, 3).reshape(E, B, D * T)  # unframe, per member
    return x
