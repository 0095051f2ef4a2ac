"""One measurement of what a model's output is, used by training and by the diagnostics.

:func:`measure` takes a model and held-out ``[B, D, T]`` tensors and returns batch means of
every output metric the book reports: levels, zero-lag and lagged correlations, the leak
probe, input dependence (common share, swap sensitivity) and spectral measures.
``train.evaluate`` adds the loss terms and the stage-1 output; ``diagnostics.diagnose``
adds the zero-weights test. Keeping one function means a number on a training curve and
the same number in a diagnosis are computed the same way.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from resmix.criteria import LAG_WINDOW_SECONDS
from resmix.data.framing import unframe

from .metrics import (
    common_share,
    lagged_correlation,
    leak_probe,
    log_spectral_distance,
    pearson,
    predicted_abs_correlation,
    rms,
    spectral_flatness,
    swap_sensitivity,
)

MAX_LAG_SECONDS = LAG_WINDOW_SECONDS  # +-10 ms; the reason is beside it in resmix.criteria


def max_lag_samples(sample_rate: int) -> int:
    """The lag window of the lagged correlations, ``MAX_LAG_SECONDS`` in samples."""
    return max(1, round(MAX_LAG_SECONDS * sample_rate))


def final_output(out) -> Tensor:
    """The last output when a model returns several (like TwoStageModel's (output1, output2))."""
    return out[-1] if isinstance(out, (tuple, list)) else out


_final = final_output  # the package's internal name


@torch.no_grad()
def measure(model: Callable, input: Tensor, target: Tensor, sample_rate: int,
            output: Tensor | None = None) -> dict[str, float]:
    """Batch means of the output metrics of ``model(input, target)``.

    Keys: ``rms_output``, ``rms_target``, ``rms_input``, ``rms_ratio_db``, ``ac_fraction``
    (std / RMS of the output: near 0 for a constant), ``offset_share`` (``1 - std^2 / RMS^2``: the
    constant offset's share of the output's power), ``corr_target``, ``corr_input`` (signed
    Pearson, per clip over D x T), ``abs_corr_target``, ``abs_corr_input`` (mean per-clip
    ``|Pearson|``: what the penalties see), ``lag_corr_target``, ``lag_corr_input`` (largest
    ``|normalised cross-correlation|`` within +-10 ms) and ``*_lag`` (median lag, samples),
    ``lag_corr_chance`` (the same against another clip's target: what tonal signals reach by chance),
    ``pred_abs_corr_target`` (the ``|rho|`` an output independent of the target would show),
    ``probe_a``, ``probe_b``, ``probe_c``, ``probe_r2``, ``common_share``, ``swap_input``,
    ``swap_target``, ``flatness``, ``lsd``.

    Args:
        model: ``model(input, target)`` returns ``[B, D, T]`` or a tuple whose last item is.
        input, target: ``[B, D, T]``, ``B >= 2``.
        sample_rate: of the waveforms, for the lag window.
        output: the model's output on ``(input, target)`` if already computed.
    """
    members = lambda x, y: _final(model(x[0], y[0])).unsqueeze(0)  # noqa: E731  (a cohort of one)
    return measure_members(members, input.unsqueeze(0), target.unsqueeze(0), sample_rate,
                           None if output is None else output.unsqueeze(0))[0]


@torch.no_grad()
def measure_members(forward: Callable, input: Tensor, target: Tensor, sample_rate: int,
                    output: Tensor | None = None) -> list[dict[str, float]]:
    """:func:`measure` of every member of a cohort: ``forward(input, target)`` maps ``[E, B, D, T]``
    to the members' outputs ``[E, B, D, T]`` (or a tuple whose last item is); one dict per member.

    Each member's clips are measured among themselves (its batch means, its common share, swaps
    within its own clips), so a member's numbers do not depend on the others.
    """
    out = (_final(forward(input, target)) if output is None else output).float()
    E, B = out.shape[:2]
    flat = lambda t: t.reshape(E * B, *t.shape[2:])  # noqa: E731  (E*B, D, T): per-clip metrics see clips
    ow, xw, yw = unframe(flat(out)), unframe(flat(input).float()), unframe(flat(target).float())  # [E*B, N]
    lag = max_lag_samples(sample_rate)
    lc_t, lc_i = lagged_correlation(ow, yw, lag), lagged_correlation(ow, xw, lag)
    probe = leak_probe(ow, xw, yw)
    swap = swap_sensitivity(forward, input, target, batch_dim=1, output=out)
    other_target = unframe(flat(target.roll(1, 1)).float())  # another clip's target, within each member
    r_out = rms(ow)
    values = {
        "rms_output": r_out, "rms_target": rms(yw), "rms_input": rms(xw),
        "rms_ratio_db": 20 * torch.log10(r_out.clamp_min(1e-12) / rms(yw).clamp_min(1e-12)),
        "ac_fraction": ow.std(-1) / r_out.clamp_min(1e-12),
        # the constant offset's share of the power, 1 - std^2 / RMS^2: 1 for a constant (Pearson
        # removes the mean, so an epsilon pull shrinks the varying part and can leave an offset)
        "offset_share": 1 - ow.var(-1, unbiased=False) / r_out.pow(2).clamp_min(1e-30),
        "corr_target": pearson(ow, yw, 1e-12), "corr_input": pearson(ow, xw, 1e-12),
        "abs_corr_target": pearson(ow, yw, 1e-12).abs(), "abs_corr_input": pearson(ow, xw, 1e-12).abs(),
        "lag_corr_target": lc_t.value, "lag_corr_input": lc_i.value,
        # chance level: the same search against another clip's target (tonal clips reach it by luck)
        "lag_corr_chance": lagged_correlation(ow, other_target, lag).value,
        "pred_abs_corr_target": predicted_abs_correlation(ow, yw),
        "probe_a": probe.a, "probe_b": probe.b, "probe_c": probe.c, "probe_r2": probe.r2,
        "swap_input": swap.input, "swap_target": swap.target,
        "flatness": spectral_flatness(ow), "lsd": log_spectral_distance(ow, yw),
    }
    means = {k: v.float().reshape(E, B).nanmean(1).tolist() for k, v in values.items()}
    lags = {k: v.lag.float().reshape(E, B).median(1).values.tolist()
            for k, v in (("lag_corr_target_lag", lc_t), ("lag_corr_input_lag", lc_i))}
    shares = [float(common_share(o)) for o in ow.reshape(E, B, -1)]
    return [{**{k: v[e] for k, v in means.items()}, **{k: v[e] for k, v in lags.items()},
             "common_share": shares[e]} for e in range(E)]
