"""The third registration: its runs are what it says, and its verdict rule says yes, no and cannot tell
on known controls before it judges a real run."""
import random
from dataclasses import replace

import pytest

from resmix.config import get_profile
from resmix.criteria import FIX
from resmix.registrations import second, third
from resmix.study.keys import run_key
from resmix.training.history import History

QUICK = get_profile("quick")


def _diff(a: dict, b: dict, prefix: str = "") -> set[str]:
    out = set()
    for k in set(a) | set(b):
        if isinstance(a.get(k), dict) and isinstance(b.get(k), dict):
            out |= _diff(a[k], b[k], f"{prefix}{k}.")
        elif a.get(k) != b.get(k):
            out.add(prefix + k)
    return out - {"name"}


def test_each_fix_changes_only_its_own_knobs_and_each_baseline_is_the_second_registrations_run():
    configs = third.fix_configs(QUICK)
    roads = second.collapse_configs2(QUICK)
    assert set(configs) == {(s, f) for s in third.SETTINGS for f in (third.BASELINE, *third.FIXES)}
    for s in third.SETTINGS:
        base = configs[s, third.BASELINE]
        assert run_key(base) == run_key(roads[s])  # chapter 4's stored runs are these baselines
        for f, change in third.FIXES.items():
            want = {f"{section}.{k}" for section, kv in change.items() for k, v in kv.items()
                    if getattr(getattr(base, section), k) != v}  # recon_kind "mse" is the default
            assert want, (s, f)
            assert _diff(configs[s, f].to_dict(), base.to_dict()) == want, (s, f)
    runs = third.campaign(QUICK)
    assert sum(map(len, runs.values())) == 150 and len({run_key(e) for rs in runs.values() for e in rs}) == 150
    assert third.COMPARISONS == 12 and FIX.confidence(12) == pytest.approx(1 - 0.05 / 12)


def test_the_fixes_are_the_ones_registered():
    configs = third.fix_configs(QUICK)
    s = third.SETTINGS[0]
    assert configs[s, "waveform MSE 0.01"].loss.reconstruction == 0.01 == configs[s, "MR-STFT 0.01"].loss.reconstruction
    assert (configs[s, "waveform MSE 0.01"].loss.recon_kind, configs[s, "MR-STFT 0.01"].loss.recon_kind) == ("mse", "mrstft")
    assert configs[s, "no decay on gains and biases"].train.decay == "weights"
    assert (configs[s, "level floor"].loss.variance, configs[s, "level floor"].loss.variance_gamma) == (0.1, 1.0)
    assert configs[second.DECAY_ROAD, "level floor"].train.weight_decay == 3.0  # the road is kept under the fix


def _runs(exp, levels, offset=0.1, swap=0.8):
    return [History(replace(exp, train=replace(exp.train, seed=s), data=replace(exp.data, seed=d)),
                    [{"epoch": 1, "val_rms_ratio_db": lv, "val_offset_share": offset, "val_swap_input": swap,
                      "val_abs_corr_target": 0.02, "val_loss_novelty": 0.03}], {})
            for (s, d), lv in zip([(s, d) for d in (1234, 2234) for s in range(5)], levels)]


def test_the_verdict_rule_on_known_controls():
    rng = random.Random(0)
    exp = QUICK
    quiet = [-15 + rng.gauss(0, 1) for _ in range(10)]
    base = _runs(exp, quiet, offset=0.7, swap=0.05)
    # positive control: a fix that brings every run to the target's level, sounding
    r = third.fix_verdict(base, _runs(exp, [rng.gauss(0, 1) for _ in range(10)]))
    assert r.verdict == "fixes" and r.closer.low > 1 and r.sound_share == 1 and r.baseline_sound_share == 0
    assert r.n == 10 and r.closer.confidence == pytest.approx(FIX.confidence(12))
    # level restored but still near-constant: closer, not fixed
    assert third.fix_verdict(base, _runs(exp, [rng.gauss(0, 1) for _ in range(10)], offset=0.7)).verdict == "brings closer"
    # negative controls: the same runs (no difference); a loud overshoot (away); noise (cannot tell)
    assert third.fix_verdict(base, _runs(exp, quiet)).verdict == "no difference"
    assert third.fix_verdict(base, _runs(exp, [-30 + rng.gauss(0, 1) for _ in range(10)])).verdict == "moves away"
    assert third.fix_verdict(base, _runs(exp, [-15 + rng.gauss(0, 12) for _ in range(10)])).verdict == "inconclusive"
    # too loud a baseline brought down counts as closer: the metric is the distance from the target's level
    loud = _runs(exp, [24 + rng.gauss(0, 1) for _ in range(10)])
    assert third.fix_verdict(loud, _runs(exp, [rng.gauss(0, 1) for _ in range(10)])).verdict == "fixes"


def test_rank_fixes_and_the_horizon_arms():
    rng = random.Random(1)
    base = _runs(QUICK, [-15 + rng.gauss(0, 1) for _ in range(10)])
    runs = {(s, third.BASELINE): base for s in third.SETTINGS}
    for i, f in enumerate(third.FIXES):
        for s in third.SETTINGS:
            runs[s, f] = _runs(QUICK, [-15 + 3 * i + rng.gauss(0, 1) for _ in range(10)])
    results = third.verdicts(runs)
    assert len(results) == 12
    assert third.rank_fixes(results) == ("level floor", "waveform MSE 0.01")
    arms = third.horizon_configs(QUICK, "level floor", "waveform MSE 0.01")
    assert list(arms) == [third.BASELINE, "level floor", "waveform MSE 0.01"]
    for runs_ in arms.values():
        assert [(e.train.seed, e.data.seed) for e in runs_] == [(0, 1234), (1, 1234), (2, 1234)]
        e = runs_[0]
        steps = e.train.epochs * -(-e.data.n_train // e.train.batch_size)
        assert steps == third.HORIZON_STEPS and e.train.lr * e.train.weight_decay * steps == pytest.approx(1.024)
    assert len(third.horizon_configs(QUICK, "level floor", "level floor")) == 2


def test_quiet_at_the_horizon_needs_every_run():
    assert third.goes_quiet_at_horizon(_runs(QUICK, [-3, -1, -0.5]))
    assert not third.goes_quiet_at_horizon(_runs(QUICK, [-3, -1, 0.5]))
