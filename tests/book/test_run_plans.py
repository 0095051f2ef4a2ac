"""resmix.book.run_plans: each chapter's run plan holds what its chapter says it trains."""
import pytest

from resmix.book import run_plans
from resmix.config import get_profile
from resmix.registrations import second
from resmix.study.schedule import steps


@pytest.fixture(scope="module")
def quick():
    return get_profile("quick")


def test_chapter4_holds_both_registrations_the_horizon_and_the_maps(quick):
    p = run_plans.chapter4(quick)
    assert [len(p[f"v1 {n}"]) for n in ("seed's setting", "matched eps, quiet start", "strong decay")] == [10, 10, 10]
    assert len(p[f"v2 {second.EPS_ROAD}"]) == 10 and len(p["eps map"]) == 24
    assert max(steps(e) for e in run_plans.everything(p)) == 10240
    assert len(run_plans.everything(p)) == len({e for runs in p.values() for e in runs})  # each run once


def test_chapter5_appendix_robustness_and_real(quick):
    assert {k for k in run_plans.chapter5(quick) if k.startswith("v2")} == {f"v2 {n}" for n in second.remedy_configs(quick)}
    app = run_plans.appendix(quick)
    assert all(len(v) == 3 and steps(v[0]) == 4 * 768 and v[0].model.d_model == quick.model.d_model for v in app.values())
    rob = run_plans.robustness(quick)
    assert len(rob) == 5 and all(len(v) == 5 for v in rob.values())
    real = run_plans.real(quick)
    assert {k.split(" | ")[0] for k in real} == set(run_plans.REAL_SOURCES)
    assert all(v[0].data.source == k.split(" | ")[0] for k, v in real.items())


def test_the_exploratory_additions_reuse_the_chapters_baselines(quick):
    """The ε-road remedies and the decay ablation change one setting each; their baselines are chapter 4's runs."""
    c4 = set(run_plans.everything(run_plans.chapter4(quick)))
    eps = {k: v for k, v in run_plans.chapter5(quick).items() if k.startswith("ε road")}
    assert set(eps) == {"ε road none", "ε road mse 0.01", "ε road mrstft 0.01"} and all(len(v) == 10 for v in eps.values())
    assert set(eps["ε road none"]) <= c4  # loaded, not retrained
    for kind in ("mse", "mrstft"):
        e = eps[f"ε road {kind} 0.01"][0]
        assert (e.loss.reconstruction, e.loss.recon_kind) == (second.REMEDY_WEIGHT, kind)
        assert e.loss.eps == eps["ε road none"][0].loss.eps
    ab = run_plans.decay_ablation(quick)
    assert set(ab[run_plans.DECAY_ALL]) <= c4 and all(len(v) == 5 for v in ab.values())
    a, m = ab[run_plans.DECAY_ALL][0], ab[run_plans.DECAY_MATRICES][0]
    assert (a.train.decay, m.train.decay) == ("all", "weights") and a.train.weight_decay == m.train.weight_decay == 3.0
