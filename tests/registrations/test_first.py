"""The pre-registered configurations and the C7/C8 rules, on planted runs whose verdict is known."""
import numpy as np
import pytest

from resmix.config import quick
from resmix.registrations import first
from resmix.training.history import History


def _runs(exp, final_db, corr=0.0, spread=0.3, seed=0, at21_db=None):
    """Fake histories of ``exp`` over the protocol's seed pairs, 24 epochs, ending near ``final_db``."""
    rng = np.random.default_rng(seed)
    out = []
    for e in first.replicate(exp):
        end = final_db + float(rng.normal(0, spread))
        mid = end if at21_db is None else at21_db
        recs = [{"epoch": float(i + 1), "val_rms_ratio_db": mid if i < 23 else end, "val_corr_target": corr}
                for i in range(24)]
        out.append(History(e, recs))
    return out


@pytest.fixture(scope="module")
def configs():
    return first.collapse_configs(quick())


def test_replicate_covers_the_registered_seed_pairs():
    exps = first.replicate(quick())
    assert len(exps) == 10 and len({(e.train.seed, e.data.seed) for e in exps}) == 10
    assert {e.data.seed for e in exps} == set(first.DATA_SEEDS)


def test_configurations_differ_only_where_registered(configs):
    seed, matched, strong = (configs[k] for k in (first.SEED_SETTING, first.MATCHED_QUIET, first.STRONG))
    assert seed.model.residual == "none" and seed.loss.reconstruction == 0 and seed.loss.eps == 1e-8
    assert matched.loss.eps == pytest.approx(quick().data.rms ** 2) and matched.model.output_scale < 1
    assert matched.train == seed.train and strong.train.weight_decay == first.STRONG_DECAY
    assert strong.model == seed.model and strong.loss == seed.loss
    remedies = first.remedy_configs(quick())
    assert remedies["none"].model == matched.model and remedies["mse 0.01"].loss.reconstruction == 0.01
    assert remedies["variance 0.1"].loss.variance == 0.1 and remedies["mrstft 0.01"].loss.recon_kind == "mrstft"


def test_c7_supported_when_the_seed_setting_collapses(configs):
    runs = {k: _runs(e, -30.0) for k, e in configs.items()}
    assert first.c7_verdict(runs).verdict == "supported"


def test_c7_partly_when_only_a_registered_condition_goes_quiet(configs):
    runs = {first.SEED_SETTING: _runs(configs[first.SEED_SETTING], 5.0),
            first.MATCHED_QUIET: _runs(configs[first.MATCHED_QUIET], -8.0, seed=1),
            first.STRONG: _runs(configs[first.STRONG], 4.8, seed=2)}
    r = first.c7_verdict(runs)
    assert r.verdict == "partly" and first.MATCHED_QUIET in r.reason and first.STRONG not in r.reason
    assert r.configs[first.MATCHED_QUIET].vs_seed.high < -1


def test_c7_refuted_when_nothing_goes_quiet_and_a_late_collapse_does_not_count(configs):
    runs = {k: _runs(e, 5.0, seed=i) for i, (k, e) in enumerate(configs.items())}
    assert first.c7_verdict(runs).verdict == "refuted"
    # collapsed only after epoch 21: the seed's "by epoch 21" does not hold
    late = dict(runs, **{first.SEED_SETTING: _runs(configs[first.SEED_SETTING], -30.0, at21_db=0.0)})
    r = first.c7_verdict(late)
    assert r.configs[first.SEED_SETTING].collapsed_end == 10 and r.configs[first.SEED_SETTING].collapsed_at_21 == 0


def test_c8_rules():
    remedies = first.remedy_configs(quick())
    quiet = {"none": _runs(remedies["none"], -10.0)}
    lifted = quiet | {k: _runs(e, -2.0, seed=3) for k, e in remedies.items() if k != "none"}
    fail = {k: [False] * 10 for k in lifted}
    assert first.c8_verdict(lifted, fail).verdict == "partly"
    assert first.c8_verdict(lifted, fail | {"mse 0.01": [True] * 9 + [False]}).verdict == "supported"
    assert first.c8_verdict(lifted, fail | {"variance 0.1": [True] * 10}).verdict == "partly"  # not the seed's remedy
    same = quiet | {k: _runs(e, -10.0, seed=4) for k, e in remedies.items() if k != "none"}
    assert first.c8_verdict(same, fail).verdict == "refuted"


def test_a_single_pair_is_read_as_its_own_difference(configs):
    one = {k: _runs(e, v, spread=0.0)[:1] for (k, e), v in zip(configs.items(), (5.0, -25.0, -3.0))}
    r = first.c7_verdict(one, method="percentile")
    d = r.configs[first.MATCHED_QUIET].vs_seed
    assert (d.n, d.low, d.mean, d.high) == (1, -30.0, -30.0, -30.0) and r.verdict == "partly"
    with pytest.raises(ValueError, match="method must be one of"):  # no interval is resampled here
        first.c7_verdict(one, method="percentil")


@pytest.fixture(scope="module")
def remedy_runs():
    remedies = first.remedy_configs(quick())
    return {"none": _runs(remedies["none"], -10.0)} | {k: _runs(e, -10.0, seed=i + 1)
                                                     for i, (k, e) in enumerate(remedies.items()) if k != "none"}


def test_c8_refuses_flags_that_are_not_one_bool_per_run(remedy_runs):
    """Regression (issue 20): stale flags, string flags and float scores counted as passes."""
    fail = {k: [False] * 10 for k in remedy_runs}
    assert first.c8_verdict(remedy_runs, fail).verdict == "refuted"
    with pytest.raises(ValueError, match=r"passed\['mse 0.01'\] has 20 flags for 10 runs; expected one per run"):
        first.c8_verdict(remedy_runs, fail | {"mse 0.01": [False] * 10 + [True] * 10})  # 10 stale True flags
    with pytest.raises(TypeError, match=r"must hold True or False per run.*got 'False' \(str\)"):
        first.c8_verdict(remedy_runs, fail | {"mse 0.01": ["False"] * 10})
    with pytest.raises(TypeError, match=r"got 0.7 \(float\)"):
        first.c8_verdict(remedy_runs, fail | {"mse 0.01": [0.7] * 10})
    with pytest.raises(ValueError, match=r"missing \['mse 0.01'\]"):
        first.c8_verdict(remedy_runs, {k: v for k, v in fail.items() if k != "mse 0.01"})
    assert first.c8_verdict(remedy_runs, fail | {"mse 0.01": list(np.ones(10, bool))}).verdict == "supported"


def test_c8_refuses_an_unknown_remedy_name(remedy_runs):
    """Regression (issue 20): a misspelt remedy's passing runs were ignored and the verdict read "refuted"."""
    runs = {("mse 0.1" if k == "mse 0.01" else k): v for k, v in remedy_runs.items()}
    passed = {k: [True] * 10 for k in runs}
    with pytest.raises(ValueError, match=r"unknown remedy \['mse 0.1'\]; expected names among"):
        first.c8_verdict(runs, passed)
    with pytest.raises(ValueError, match="must include the remedy 'none'"):
        first.c8_verdict({k: v for k, v in remedy_runs.items() if k != "none"},
                            {k: [True] * 10 for k in remedy_runs if k != "none"})


def test_c7_refuses_duplicated_runs_and_empty_or_mixed_configurations(configs):
    """Regression (issue 20): a run listed twice counted twice; an empty configuration divided by zero."""
    runs = {k: _runs(e, 5.0, seed=i) for i, (k, e) in enumerate(configs.items())}
    seed = runs[first.SEED_SETTING]
    collapsed = _runs(configs[first.SEED_SETTING], -30.0)
    # 8 collapsed runs of 10 would pass min_share; 4 collapsed, each listed twice, must not
    doubled = dict(runs, **{first.SEED_SETTING: collapsed[:4] * 2 + seed[4:6]})
    with pytest.raises(ValueError, match=r"configuration \"seed's setting\" holds two runs of \(seed, data seed\)"):
        first.c7_verdict(doubled)
    with pytest.raises(ValueError, match=r"configuration 'strong decay' has no runs"):
        first.c7_verdict(dict(runs, **{first.STRONG: []}))
    with pytest.raises(ValueError, match=r"mixes runs of 2 different settings"):
        first.c7_verdict(dict(runs, **{first.STRONG: runs[first.STRONG][:5] + runs[first.MATCHED_QUIET][5:]}))
    with pytest.raises(ValueError, match=r"'matched eps, quiet start' and 'strong decay' hold runs of the same settings"):
        first.c7_verdict(dict(runs, **{first.STRONG: runs[first.MATCHED_QUIET]}))
    with pytest.raises(ValueError, match=r"unknown configuration \['seed setting'\]"):
        first.c7_verdict({"seed setting": seed})
    empty = [type(seed[0])(seed[0].experiment, [])] + seed[1:]
    with pytest.raises(ValueError, match="has no records"):
        first.c7_verdict(dict(runs, **{first.SEED_SETTING: empty}))


def test_level_at_counts_epochs_from_one():
    """Regression (issue 20): epoch 0 returned the last epoch and negative epochs wrapped around."""
    h = _runs(quick(), -30.0, at21_db=-5.0)[0]
    assert first.level_at(h, 1) == -5.0 and first.level_at(h, 24) == first.level_at(h, 99) != -5.0
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="epoch must be an integer >= 1"):
            first.level_at(h, bad)
