"""Paired differences against a baseline, with bootstrap intervals, and verdicts read from them.

A configuration and its baseline are run with the same (model seed, data seed) pairs, so the
difference ``d_k = treated_k - baseline_k`` of each pair removes what the two runs share (the
initialisation, the batch order, the data). The estimate is ``mean_k d_k``, with a two-sided
bootstrap confidence interval of that mean (``scipy.stats.bootstrap``, paired resampling,
BCa by default: Efron 1987, "Better bootstrap confidence intervals", JASA 82:171). Verdicts
come from the interval, never from the point estimate (:func:`verdict`).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Iterable, Literal, Mapping

import numpy as np
from scipy import stats as _scipy_stats

from resmix.criteria import STATS

Key = tuple[int, int]  # (model seed, data seed)
METHODS = ("BCa", "percentile", "basic")  # scipy.stats.bootstrap's interval methods
Verdict = Literal["above", "below", "within", "straddles"]


def seeds_of(history: Any) -> Key:
    """``(train.seed, data.seed)`` of a run (a :class:`~resmix.training.history.History` or anything with ``.experiment``)."""
    exp = history.experiment
    return exp.train.seed, exp.data.seed


def values_by_seeds(histories: Iterable[Any], metric: str, epoch: int = -1) -> dict[Key, float]:
    """``{(seed, data seed): records[epoch][metric]}`` for runs of one configuration.

    Raises ValueError when two runs share a seed pair (they belong to different configurations).
    """
    out: dict[Key, float] = {}
    for h in histories:
        key = seeds_of(h)
        if key in out:
            raise ValueError(f"two runs with (seed, data seed) = {key}: group the runs by configuration first")
        out[key] = float(_record(h, epoch, metric))
    return out


def _record(history: Any, epoch: int, metric: str) -> float:
    """``history.records[epoch][metric]``, with errors that name the run and what it holds."""
    records = history.records
    if not -len(records) <= epoch < len(records):
        raise ValueError(f"run {history.experiment.name!r} has {len(records)} records; epoch index {epoch} "
                         "is beyond them")
    if metric not in records[epoch]:
        raise KeyError(f"run {history.experiment.name!r} has no metric {metric!r}; known: {sorted(records[epoch])}")
    return records[epoch][metric]


@dataclass(frozen=True)
class PairedDifference:
    """Mean of ``treated - baseline`` over matched (seed, data seed) pairs, with its bootstrap interval."""

    mean: float
    low: float  # ends of the two-sided ``confidence`` interval
    high: float
    n: int  # matched pairs
    confidence: float

    def verdict(self, margin: float = 0.0) -> Verdict:
        """:func:`verdict` of this interval."""
        return verdict(self.low, self.high, margin)


def paired_difference(treated: Mapping[Key, float], baseline: Mapping[Key, float],
                      confidence: float = STATS.confidence, n_resamples: int = STATS.n_resamples,
                      seed: int = STATS.bootstrap_seed, method: str = STATS.method) -> PairedDifference:
    """Mean paired difference ``mean_k (treated_k - baseline_k)`` with a bootstrap interval.

    Args:
        treated, baseline: one value per ``(seed, data seed)``; both must hold the same keys.
        confidence: of the two-sided interval, strictly between 0 and 1.
        n_resamples, method: passed to ``scipy.stats.bootstrap`` (``METHODS``: ``"BCa"``, ``"percentile"``,
            ``"basic"``); checked on every call, also when no resampling is needed.
        seed: of the resampling generator: the same call gives the same interval.

    Returns:
        :class:`PairedDifference`. When every difference is the same, the interval is that value.
    """
    _check_bootstrap(confidence, n_resamples, method)
    if set(treated) != set(baseline):
        only_t, only_b = sorted(set(treated) - set(baseline)), sorted(set(baseline) - set(treated))
        raise ValueError(f"treated and baseline must have the same (seed, data seed) pairs; only in "
                         f"treated: {only_t}, only in baseline: {only_b}")
    keys = sorted(treated)
    if len(keys) < 2:
        raise ValueError(f"a bootstrap interval needs at least 2 matched pairs; got {len(keys)}")
    t = np.array([treated[k] for k in keys], dtype=float)
    b = np.array([baseline[k] for k in keys], dtype=float)
    if not (np.isfinite(t).all() and np.isfinite(b).all()):
        bad = [k for k, x, y in zip(keys, t, b) if not (math.isfinite(x) and math.isfinite(y))]
        raise ValueError(f"values must be finite; NaN or infinite at (seed, data seed) {bad}")
    d = t - b
    if np.ptp(d) == 0:  # no spread to resample (BCa would be 0/0)
        return PairedDifference(float(d[0]), float(d[0]), float(d[0]), len(keys), confidence)

    def mean_difference(x, y, axis=-1):
        return np.mean(x - y, axis=axis)

    res = _scipy_stats.bootstrap((t, b), mean_difference, paired=True, vectorized=True,
                                 confidence_level=confidence, n_resamples=n_resamples, method=method,
                                 rng=np.random.default_rng(seed))
    ci = res.confidence_interval
    return PairedDifference(float(d.mean()), float(ci.low), float(ci.high), len(keys), confidence)


def _check_bootstrap(confidence: float, n_resamples: int, method: str) -> None:
    """Checked on every call, also where no resampling runs (a constant difference), so a typo never passes."""
    if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real) or not 0 < confidence < 1:
        raise ValueError(f"confidence must be a number strictly between 0 and 1 (0.95 for a 95% interval); "
                         f"got {confidence!r}")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, numbers.Integral) or n_resamples < 1:
        raise ValueError(f"n_resamples must be an integer >= 1; got {n_resamples!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")


def verdict(low: float, high: float, margin: float = 0.0) -> Verdict:
    """Read an interval ``[low, high]`` of a difference against a margin ``m >= 0``.

    ``"above"``: ``low > m`` (a difference larger than the margin); ``"below"``: ``high < -m``;
    ``"within"``: ``-m <= low`` and ``high <= m`` (no difference beyond the margin, shown);
    ``"straddles"``: anything else (the data cannot tell).
    """
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        raise ValueError(f"interval must be finite with low <= high; got [{low}, {high}]")
    if isinstance(margin, bool) or not isinstance(margin, numbers.Real) or not (math.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin must be a finite number >= 0; got {margin!r}")  # NaN read "straddles"
    if low > margin:
        return "above"
    if high < -margin:
        return "below"
    if -margin <= low and high <= margin:
        return "within"
    return "straddles"
