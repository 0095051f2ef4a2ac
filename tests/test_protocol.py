"""The pre-registered configurations and the C7/C8 rules, on planted runs whose verdict is known."""
import numpy as np
import pytest

from resmix import protocol
from resmix.config import quick
from resmix.train import History


def _runs(exp, final_db, corr=0.0, spread=0.3, seed=0, at21_db=None):
    """Fake histories of ``exp`` over the protocol's seed pairs, 24 epochs, ending near ``final_db``."""
    rng = np.random.default_rng(seed)
    out = []
    for e in protocol.replicate(exp):
        end = final_db + float(rng.normal(0, spread))
        mid = end if at21_db is None else at21_db
        recs = [{"epoch": float(i + 1), "val_rms_ratio_db": mid if i < 23 else end, "val_corr_target": corr}
                for i in range(24)]
        out.append(History(e, recs))
    return out


@pytest.fixture(scope="module")
def configs():
    return protocol.collapse_configs(quick())


def test_replicate_covers_the_registered_seed_pairs():
    exps = protocol.replicate(quick())
    assert len(exps) == 10 and len({(e.train.seed, e.data.seed) for e in exps}) == 10
    assert {e.data.seed for e in exps} == set(protocol.DATA_SEEDS)


def test_configurations_differ_only_where_registered(configs):
    seed, matched, strong = (configs[k] for k in (protocol.SEED_SETTING, protocol.MATCHED_QUIET, protocol.STRONG))
    assert seed.model.residual == "none" and seed.loss.reconstruction == 0 and seed.loss.eps == 1e-8
    assert matched.loss.eps == pytest.approx(quick().data.rms ** 2) and matched.model.output_scale < 1
    assert matched.train == seed.train and strong.train.weight_decay == protocol.STRONG_DECAY
    assert strong.model == seed.model and strong.loss == seed.loss
    remedies = protocol.remedy_configs(quick())
    assert remedies["none"].model == matched.model and remedies["mse 0.01"].loss.reconstruction == 0.01
    assert remedies["variance 0.1"].loss.variance == 0.1 and remedies["mrstft 0.01"].loss.recon_kind == "mrstft"


def test_c7_supported_when_the_seed_setting_collapses(configs):
    runs = {k: _runs(e, -30.0) for k, e in configs.items()}
    assert protocol.c7_verdict(runs).verdict == "supported"


def test_c7_partly_when_only_a_registered_condition_goes_quiet(configs):
    runs = {protocol.SEED_SETTING: _runs(configs[protocol.SEED_SETTING], 5.0),
            protocol.MATCHED_QUIET: _runs(configs[protocol.MATCHED_QUIET], -8.0, seed=1),
            protocol.STRONG: _runs(configs[protocol.STRONG], 4.8, seed=2)}
    r = protocol.c7_verdict(runs)
    assert r.verdict == "partly" and protocol.MATCHED_QUIET in r.reason and protocol.STRONG not in r.reason
    assert r.configs[protocol.MATCHED_QUIET].vs_seed.high < -1


def test_c7_refuted_when_nothing_goes_quiet_and_a_late_collapse_does_not_count(configs):
    runs = {k: _runs(e, 5.0, seed=i) for i, (k, e) in enumerate(configs.items())}
    assert protocol.c7_verdict(runs).verdict == "refuted"
    # collapsed only after epoch 21: the seed's "by epoch 21" does not hold
    late = dict(runs, **{protocol.SEED_SETTING: _runs(configs[protocol.SEED_SETTING], -30.0, at21_db=0.0)})
    r = protocol.c7_verdict(late)
    assert r.configs[protocol.SEED_SETTING].collapsed_end == 10 and r.configs[protocol.SEED_SETTING].collapsed_at_21 == 0


def test_c8_rules():
    remedies = protocol.remedy_configs(quick())
    quiet = {"none": _runs(remedies["none"], -10.0)}
    lifted = quiet | {k: _runs(e, -2.0, seed=3) for k, e in remedies.items() if k != "none"}
    fail = {k: [False] * 10 for k in lifted}
    assert protocol.c8_verdict(lifted, fail).verdict == "partly"
    assert protocol.c8_verdict(lifted, fail | {"mse 0.01": [True] * 9 + [False]}).verdict == "supported"
    assert protocol.c8_verdict(lifted, fail | {"variance 0.1": [True] * 10}).verdict == "partly"  # not the seed's remedy
    same = quiet | {k: _runs(e, -10.0, seed=4) for k, e in remedies.items() if k != "none"}
    assert protocol.c8_verdict(same, fail).verdict == "refuted"


def test_a_single_pair_is_read_as_its_own_difference(configs):
    one = {k: _runs(e, v, spread=0.0)[:1] for (k, e), v in zip(configs.items(), (5.0, -25.0, -3.0))}
    r = protocol.c7_verdict(one, method="percentile")
    d = r.configs[protocol.MATCHED_QUIET].vs_seed
    assert (d.n, d.low, d.mean, d.high) == (1, -30.0, -30.0, -30.0) and r.verdict == "partly"
