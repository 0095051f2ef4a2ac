import numpy as np
import pytest

from resmix.config import quick
from resmix.measure.stats import PairedDifference, paired_difference, values_by_seeds, verdict
from resmix.training.history import History

KEYS = [(s, d) for s in range(5) for d in (1234, 99)]  # 5 seeds x 2 data seeds


def _planted(shift, noise=0.3, seed=0):
    rng = np.random.default_rng(seed)
    base = {k: float(v) for k, v in zip(KEYS, rng.normal(-10, 3, len(KEYS)))}  # big spread between runs
    treated = {k: base[k] + shift + float(rng.normal(0, noise)) for k in KEYS}  # small spread within pairs
    return treated, base


def test_a_planted_shift_is_detected():
    r = paired_difference(*_planted(2.0))
    assert isinstance(r, PairedDifference) and r.n == 10 and r.confidence == 0.95
    assert r.low < r.mean < r.high and 1.5 < r.mean < 2.5
    assert r.low > 1.0 and r.verdict() == "above" and r.verdict(margin=1.0) == "above"
    assert paired_difference(*_planted(-2.0)).verdict() == "below"


def test_zero_shift_straddles_and_a_margin_can_show_no_difference():
    r = paired_difference(*_planted(0.0))
    assert r.low < 0 < r.high and r.verdict() == "straddles"
    assert r.verdict(margin=1.0) == "within"  # the pairing makes the interval narrow: +-0.2 or so


def test_pairing_matters():
    """Unpaired, the runs' spread (sd 3) would swamp a shift of 2; paired, the interval is narrow."""
    r = paired_difference(*_planted(2.0))
    assert r.high - r.low < 1.0


def test_reproducible_and_matches_the_mean_difference():
    t, b = _planted(0.7)
    r1, r2 = paired_difference(t, b), paired_difference(t, b)
    assert r1 == r2
    assert r1.mean == pytest.approx(np.mean([t[k] - b[k] for k in KEYS]))
    assert paired_difference(t, b, seed=1) != r1  # the seed is the resampler's, not decoration


def test_constant_difference_and_bad_input():
    b = {k: float(i) for i, k in enumerate(KEYS)}
    r = paired_difference({k: v + 1 for k, v in b.items()}, b)
    assert (r.mean, r.low, r.high) == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match=r"same \(seed, data seed\) pairs; only in treated: \[\], only in baseline: \[\(4, 99\)\]"):
        paired_difference({k: 0.0 for k in KEYS[:-1]}, b)
    with pytest.raises(ValueError, match="at least 2 matched pairs"):
        paired_difference({(0, 0): 1.0}, {(0, 0): 0.0})
    with pytest.raises(ValueError, match=r"NaN or infinite at \(seed, data seed\) \[\(0, 1234\)\]"):
        paired_difference({**b, (0, 1234): float("nan")}, b)


def test_verdict_reads_the_interval():
    assert verdict(0.5, 2.0) == "above" and verdict(0.5, 2.0, margin=0.6) == "straddles"
    assert verdict(-2.0, -0.5) == "below" and verdict(-0.3, 0.4) == "straddles"
    assert verdict(-0.3, 0.4, margin=0.5) == "within"
    with pytest.raises(ValueError, match="low <= high"):
        verdict(1.0, 0.0)
    with pytest.raises(ValueError, match="margin must be a finite number >= 0; got -1"):
        verdict(0.0, 1.0, margin=-1)


@pytest.mark.parametrize("margin", [float("nan"), float("inf"), "1", True])
def test_verdict_refuses_a_margin_that_is_not_a_finite_number(margin):
    """Regression (issue 20): margin=nan read every interval as "straddles"."""
    with pytest.raises(ValueError, match="margin must be a finite number >= 0"):
        verdict(0.5, 2.0, margin=margin)


@pytest.mark.parametrize("kwargs, message", [
    ({"confidence": 1.5}, "confidence must be a number strictly between 0 and 1"),
    ({"confidence": 0}, "confidence must be a number strictly between 0 and 1"),
    ({"confidence": float("nan")}, "confidence must be a number strictly between 0 and 1"),
    ({"method": "bogus"}, r"method must be one of \('BCa', 'percentile', 'basic'\); got 'bogus'"),
    ({"n_resamples": 0}, "n_resamples must be an integer >= 1"),
])
def test_bootstrap_settings_are_checked_on_every_call(kwargs, message):
    """Regression (issue 20): confidence=1.5 gave a NaN interval; method="bogus" passed where no
    resampling ran (a constant difference)."""
    b = {k: float(i) for i, k in enumerate(KEYS)}
    for t in ({k: v + 1 for k, v in b.items()}, {k: v * 2 for k, v in b.items()}):  # constant, varying
        with pytest.raises(ValueError, match=message):
            paired_difference(t, b, **kwargs)


def test_values_by_seeds_matches_runs_by_seed_and_data_seed():
    runs = [History(quick().with_(train={"seed": s}, data={"seed": d}), records=[{"x": s + d / 1000}])
            for s, d in [(0, 1), (1, 1), (0, 2)]]
    assert values_by_seeds(runs, "x") == {(0, 1): 0.001, (1, 1): 1.001, (0, 2): 0.002}
    with pytest.raises(ValueError, match=r"two runs with \(seed, data seed\) = \(0, 1\)"):
        values_by_seeds(runs + runs[:1], "x")


def test_values_by_seeds_names_a_missing_metric_or_epoch():
    runs = [History(quick(), records=[{"epoch": 1.0, "x": 1.0}])]
    with pytest.raises(KeyError, match=r"run 'quick' has no metric 'y'; known: \['epoch', 'x'\]"):
        values_by_seeds(runs, "y")
    with pytest.raises(ValueError, match="run 'quick' has 1 records; epoch index 3 is beyond them"):
        values_by_seeds(runs, "x", epoch=3)
