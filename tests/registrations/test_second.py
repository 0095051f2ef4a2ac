"""resmix.registrations.second: the second registration's configurations are what its docstring says."""
import pytest

from resmix.config import get_profile
from resmix.registrations import second as P
from resmix.study.schedule import steps


@pytest.fixture(scope="module")
def quick():
    return get_profile("quick")


def test_the_roads_start_at_the_default_level(quick):
    c = P.collapse_configs2(quick)
    assert all(e.model.output_scale == 1.0 and e.model.output_gain == 1.0 and e.model.residual == "none" for e in c.values())
    assert c[P.EPS_ROAD].loss.eps == pytest.approx(P.EPS_RATIO * P.untrained_s(c[P.SEED_SETTING]))
    assert c[P.DECAY_ROAD].train.weight_decay == 3.0 and c[P.SEED_SETTING].train.weight_decay == 0.01


def test_the_horizon_pairs_equal_products_and_holds_the_seeds_own_decay(quick):
    h = P.horizon_configs(quick)
    for (product, horizon), runs in h.items():
        e = runs[0]
        assert e.train.lr * e.train.weight_decay * steps(e) == pytest.approx(product)
    assert steps(h[min(P.horizon_products(quick)), "long"][0]) == 10240
    assert h[min(P.horizon_products(quick)), "long"][0].train.weight_decay == pytest.approx(0.01)
    assert len(h[min(P.horizon_products(quick)), "long"]) == 2
    gpu = P.horizon_configs(get_profile("t4"))
    assert steps(gpu[max(P.horizon_products(get_profile("t4"))), "long"][0]) == 102400


def test_the_remedies_and_the_positive_control(quick):
    r = P.remedy_configs(quick)
    assert {k: (e.loss.reconstruction, e.loss.recon_kind) for k, e in r.items() if k != "none"} == {
        "mse 0.01": (0.01, "mse"), "mrstft 0.01": (0.01, "mrstft"), P.POSITIVE: (1.0, "mrstft")}
    assert r[P.POSITIVE].loss.corr_lag_seconds == 0.01 and r["none"].train.weight_decay == 3.0


def test_stress_tests_change_one_reading_each(quick):
    seed = P.collapse_configs2(quick)[P.SEED_SETTING].to_dict()
    for name, e in P.stress_configs(quick).items():
        d = e.to_dict()
        changed = [(s, k) for s in ("model", "loss", "train") for k in d[s] if d[s][k] != seed[s][k]]
        assert len(changed) == 1, (name, changed)


class _H:
    def __init__(self, level, offset=0.0):
        self.last = {"val_rms_ratio_db": level, "val_offset_share": offset}


def test_the_horizon_rule_and_near_constant():
    follows = {(0.1, "short"): [_H(20.0)], (0.1, "long"): [_H(19.0), _H(21.5)], (1.0, "short"): [_H(5.0)],
               (1.0, "long"): [_H(6.5)]}
    r = P.horizon_verdict(follows)
    assert r.follows and r.same_product_gaps[0.1] == pytest.approx(0.25) and r.larger_product_quieter_by > 10
    apart = dict(follows) | {(1.0, "long"): [_H(12.0)]}
    assert not P.horizon_verdict(apart).follows  # 7 dB apart at product 1
    flat = {k: [_H(0.0)] for k in follows}
    assert not P.horizon_verdict(flat).follows  # equal products agree, but the product does nothing
    assert P.near_constant([_H(0, 0.6)] * 4 + [_H(0, 0.1)]) and not P.near_constant([_H(0, 0.6)] * 3 + [_H(0, 0.1)] * 2)


def test_c4_decisive_weight_and_verdict():
    grid = {("leaky", 1.0): 0.02, ("none", 1.0): 0.01, ("leaky", 10.0): 0.7, ("none", 10.0): 0.3,
            ("leaky", 100.0): 0.95, ("none", 100.0): 0.9}
    assert P.c4_decisive_weight(grid) == 10.0
    assert P.c4_decisive_weight({k: v for k, v in grid.items() if k[1] != 10.0}) == 100.0  # no split: largest gap

    class H:
        def __init__(self, seed, corr):
            from types import SimpleNamespace
            self.experiment = SimpleNamespace(train=SimpleNamespace(seed=seed), data=SimpleNamespace(seed=1))
            self.records = [{"val_corr_target": corr}]
    leaky, fixed = [H(s, 0.7 + 0.01 * s) for s in range(5)], [H(s, 0.3) for s in range(5)]
    assert P.c4_verdict(leaky, fixed).verdict == "partly"
    assert P.c4_verdict(fixed, leaky).verdict == "refuted"
