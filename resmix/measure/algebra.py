"""The algebra of the leak, exact (sympy ``Rational``).

With the learned branches at zero, stage k of the leaky design outputs
``a_k * input + b_k * target``. Stage 1 adds ``(input + target)/2``; every later
stage adds ``(input + output_{k-1} + target)/3``, so

    a_k = (1 + a_{k-1}) / 3,   b_k = (1 + b_{k-1}) / 3,

whose fixed point is exactly (1/2, 1/2), approached with ratio 1/3. Starting from
the seed's stage 1, (1/2, 1/2), every stage sits on the fixed point: the seed's
"49.5%" is 1/3 rounded to 33%.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import sympy as sp


@dataclass(frozen=True)
class MixCoefficients:
    """Exact weights of input and target in one stage's zero-learning output."""

    stage: int
    a_input: sp.Rational
    b_target: sp.Rational


def leak_coefficients(n_stages: int, stage1: tuple = (sp.Rational(1, 2), sp.Rational(1, 2))
                      ) -> list[MixCoefficients]:
    """Input and target coefficients after each of ``n_stages`` leaky stages.

    Args:
        n_stages: how many stages (>= 1).
        stage1: stage 1's residual weights (a_1, b_1); the seed's are (1/2, 1/2).
            Other values show how fast later stages pull towards (1/2, 1/2).

    Returns:
        One :class:`MixCoefficients` per stage, with exact rationals.
    """
    if n_stages < 1:
        raise ValueError(f"n_stages must be >= 1; got {n_stages}")
    a, b = (sp.nsimplify(v) for v in stage1)
    out = [MixCoefficients(1, a, b)]
    for k in range(2, n_stages + 1):
        a, b = (1 + a) / 3, (1 + b) / 3
        out.append(MixCoefficients(k, sp.nsimplify(a), sp.nsimplify(b)))
    return out


def fixed_point() -> tuple[sp.Rational, sp.Rational]:
    """Solve ``a = (1 + a) / 3`` exactly: the limit of every stage's weights."""
    a = sp.Symbol("a")
    (root,) = sp.solve(sp.Eq(a, (1 + a) / 3), a)
    return root, root


@lru_cache(maxsize=1)
def correlation_formula() -> sp.Expr:
    """``corr(a X + b Y, Y)`` for zero-mean X, Y with RMS ``s_x, s_y`` and correlation ``r``.

    Equal to ``(a r s_x + b s_y) / sqrt(a^2 s_x^2 + b^2 s_y^2 + 2 a b r s_x s_y)``.
    """
    a, b, sx, sy, r = sp.symbols("a b s_x s_y r", real=True)
    cov = a * r * sx * sy + b * sy ** 2
    var = a ** 2 * sx ** 2 + b ** 2 * sy ** 2 + 2 * a * b * r * sx * sy
    return sp.simplify(cov / (sy * sp.sqrt(var)))


def predicted_correlation(a: float, b: float, rms_input: float = 1.0, rms_target: float = 1.0,
                          rho: float = 0.0) -> float:
    """Predicted correlation with the target of ``a*input + b*target`` (zero-mean signals).

    Args:
        a, b: weights of input and target (1/2, 1/2 for the leaky model at zero learning).
        rms_input, rms_target: the signals' RMS.
        rho: correlation between input and target.
    """
    if rms_input <= 0 or rms_target <= 0 or not -1 <= rho <= 1:
        raise ValueError("rms_input and rms_target must be > 0 and rho in [-1, 1]")
    return float(_correlation_fn()(a, b, rms_input, rms_target, rho))


@lru_cache(maxsize=1)
def _correlation_fn():
    return sp.lambdify(sp.symbols("a b s_x s_y r", real=True), correlation_formula(), "math")


@dataclass(frozen=True)
class MixSweep:
    """Theory and measurement of ``corr((1 - w) I + w T_r, T_r)`` over target weights w and correlations r.

    ``T_r`` is the target remixed to correlate ``r`` with the input
    (:func:`resmix.data.synthetic.mix_correlated`); ``predicted`` uses each ``T_r``'s measured
    correlation with the input (``input_corr``), ``measured`` is the mean per-clip Pearson
    correlation of the mix with ``T_r``. Shapes: ``predicted``, ``measured`` ``[R, W]``;
    ``input_corr`` ``[R]``.
    """

    weights: tuple[float, ...]
    correlations: tuple[float, ...]
    input_corr: tuple[float, ...]
    predicted: tuple[tuple[float, ...], ...]
    measured: tuple[tuple[float, ...], ...]


def mix_sweep(input, target, weights: Sequence[float], correlations: Sequence[float]) -> MixSweep:
    """Predict and measure the mix's correlation with the target for every (r, w): what the slider of chapter 2 shows.

    Args:
        input, target: waveforms ``[B, N]`` of equal RMS (the study's clips).
        weights: target weights ``w`` in ``[0, 1]``.
        correlations: input-target correlations ``r`` in ``[-1, 1]``; 0 keeps the target as it is.
    """
    from resmix.data.synthetic import mix_correlated

    from .metrics import pearson
    if any(not 0 <= w <= 1 for w in weights):
        raise ValueError(f"weights must lie in [0, 1]; got {list(weights)}")
    rho, pred, meas = [], [], []
    for r in correlations:
        t = mix_correlated(input, target, r) if r else target  # [B, N], correlated r with the input
        rho.append(float(pearson(input, t).mean()))
        pred.append(tuple(predicted_correlation(1 - w, w, 1.0, 1.0, rho[-1]) for w in weights))
        meas.append(tuple(float(pearson((1 - w) * input + w * t, t).mean()) for w in weights))
    return MixSweep(tuple(map(float, weights)), tuple(map(float, correlations)), tuple(rho), tuple(pred), tuple(meas))
