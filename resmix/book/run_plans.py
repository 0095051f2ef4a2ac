"""Each chapter's run plan: the named groups of experiments it trains, from a profile.

A chapter shows one call (``plans.chapter4(exp)``) and a sentence on what it trains; the
configurations and their reasons live in :mod:`resmix.registrations.first` (the first registration) and
:mod:`resmix.registrations.second` (the second). ``tests/book/test_run_plans.py`` checks the plans' sizes and settings.
"""
from __future__ import annotations

from dataclasses import replace

from resmix.config import Experiment
from resmix.registrations import first, second
from resmix.study.grids import grid

Plan = dict[str, list[Experiment]]

IDENTITY_SEEDS = (0, 1, 2)  # the frozen-start runs at the textbook eps: three seeds check an identity
EPS_SWEEP = (1e-8, 1e-4, 1e-2, 1e-1)  # seven decades
EPS_EPOCHS_QUICK = 6  # the eps map is a map of a run's first quarter (192 steps) on the quick profile


def everything(plan: Plan) -> list[Experiment]:
    """Every run of a plan, once, longest first (so that a grid's workers stay busy to the end)."""
    from resmix.study.schedule import steps
    seen = {}
    for runs in plan.values():
        for e in runs:
            seen.setdefault(e, None)
    return sorted(seen, key=steps, reverse=True)


def chapter4(exp: Experiment) -> Plan:
    """The collapse: the first registration's three configurations (10 pairs each), the two roads of the second
    (10 pairs each), the horizon design, the frozen start at the textbook eps (the identity's check), the eps map."""
    configs1 = first.collapse_configs(exp)
    configs2 = second.collapse_configs2(exp)
    plan: Plan = {f"v1 {name}": first.replicate(e) for name, e in configs1.items()}
    plan |= {f"v2 {name}": first.replicate(e) for name, e in configs2.items() if name != second.SEED_SETTING}
    plan |= {f"horizon {p:.3g} {h}": runs for (p, h), runs in second.horizon_configs(exp).items()}
    frozen = configs1[first.MATCHED_QUIET].with_(loss={"eps": 1e-8})
    plan["identity: frozen start, textbook eps"] = first.replicate(replace(frozen, name="c7-frozen-textbook"),
                                                                      IDENTITY_SEEDS, [exp.data.seed])
    seed = configs1[first.SEED_SETTING]
    epochs = EPS_EPOCHS_QUICK if exp.profile == "quick" else exp.train.epochs // 4
    base = seed.with_(name="ch4-eps", train={"epochs": epochs})
    plan["eps map"] = grid(base, {"loss.eps": list(EPS_SWEEP),
                                  "model.output_scale": [1.0, configs1[first.MATCHED_QUIET].model.output_scale],
                                  "loss.corr_axes": ["clip", "frame", "batch"]})
    return plan


def chapter5(exp: Experiment) -> Plan:
    """The remedies: the first registration's (on the frozen start, 10 pairs) and the second's (on the decay
    road, with the trained positive control, 10 pairs), a second positive control added after the registered
    one failed (MSE x 100 to the target through a random-phase all-pass filter, on the seed's setting, three
    seeds; exploratory), the two remedies on the ε road (10 pairs; exploratory), and the exploratory weight
    sweep (one seed)."""
    configs1 = {k: v for k, v in first.remedy_configs(exp).items() if k != "variance 0.1"}
    plan: Plan = {f"v1 {name}": first.replicate(e) for name, e in configs1.items()}
    plan |= {f"v2 {name}": first.replicate(e) for name, e in second.remedy_configs(exp).items()}
    seed = first.collapse_configs(exp)[first.SEED_SETTING]
    allpass = seed.with_(name="c8-allpass", loss={"reconstruction": ALLPASS_WEIGHT, "recon_kind": "mse",
                                                    "recon_reference": "allpass"})
    plan["exploratory positive control"] = first.replicate(allpass, ALLPASS_SEEDS, [exp.data.seed])
    eps_road = second.collapse_configs2(exp)[second.EPS_ROAD]  # its baseline runs are chapter 4's
    plan |= {f"ε road {name}": first.replicate(e) for name, e in eps_remedies(eps_road).items()}
    base = configs1["none"]
    plan["sweep"] = (grid(base.with_(name="ch5-sweep", loss={"recon_kind": "mse"}), {"loss.reconstruction": [0.1, 1.0]})
                     + grid(base.with_(name="ch5-sweep", loss={"recon_kind": "mrstft"}), {"loss.reconstruction": [0.1, 1.0]})
                     + grid(base.with_(name="ch5-sweep"), {"loss.variance": [0.1, 1.0]}))
    return plan


def eps_remedies(eps_road: Experiment) -> dict[str, Experiment]:
    """The seed's two remedies at 0.01 on the ε road from PyTorch's start, beside its baseline: added after
    the second registration's runs, so exploratory (the registration gave the remedies the decay road only)."""
    return {"none": eps_road} | {f"{kind} 0.01": replace(eps_road.with_(loss={"reconstruction": second.REMEDY_WEIGHT,
                                                                               "recon_kind": kind}), name=f"eps-{kind}")
                                 for kind in ("mse", "mrstft")}


ALLPASS_WEIGHT = 100.0  # a waveform MSE weighs as much as the penalties at about 100 (chapter 2)
ALLPASS_SEEDS = (0, 1, 2)  # an exploratory control: three model seeds on the profile's data seed

SCALE_STEPS = 4  # the appendix: four times the steps
SCALE_SEEDS = (0, 1, 2)  # three seed pairs per configuration (model seeds 0-2 on the profile's data seed)


def appendix(exp: Experiment) -> Plan:
    """The verdicts at four times the steps: every configuration the chapters' verdicts rest on, three seed pairs each."""
    configs1, configs2 = first.collapse_configs(exp), second.collapse_configs2(exp)
    remedies = second.remedy_configs(exp)
    configs = {first.SEED_SETTING: configs1[first.SEED_SETTING], first.MATCHED_QUIET: configs1[first.MATCHED_QUIET],
               second.DECAY_ROAD: configs2[second.DECAY_ROAD], second.EPS_ROAD: configs2[second.EPS_ROAD],
               "mse 0.01 (decay road)": remedies["mse 0.01"], "mrstft 0.01 (decay road)": remedies["mrstft 0.01"]}
    return {name: first.replicate(first.scaled(e, SCALE_STEPS, 1), SCALE_SEEDS, [exp.data.seed])
            for name, e in configs.items()}


STRESS_SEEDS = first.SEEDS  # five model seeds ...
STRESS_DATA_SEEDS = first.DATA_SEEDS[:1]  # ... on one data seed: half the pairs, for the time budget


def robustness(exp: Experiment) -> Plan:
    """The stress tests: the seed's setting with one reading changed at a time, five seed pairs each."""
    return {name: first.replicate(e, STRESS_SEEDS, STRESS_DATA_SEEDS)
            for name, e in second.stress_configs(exp).items()}


DECAY_ALL, DECAY_MATRICES = "decay road (wd 3 on every parameter)", "decay road, wd 3 on weight matrices only"


def decay_ablation(exp: Experiment) -> Plan:
    """Is the decay road's quiet the LayerNorm gains'? The decay road against the same decay on weight
    matrices only (no LayerNorm gains, no biases), five seed pairs each; added after chapter 4's runs
    (exploratory). The first entry's runs are chapter 4's, loaded from its store."""
    road = second.collapse_configs2(exp)[second.DECAY_ROAD]
    return {DECAY_ALL: first.replicate(road, STRESS_SEEDS, STRESS_DATA_SEEDS),
            DECAY_MATRICES: first.replicate(replace(road.with_(train={"decay": "weights"}), name="decay road, matrices only"),
                                               STRESS_SEEDS, STRESS_DATA_SEEDS)}


REAL_SOURCES = ("synthetic", "music", "chorales")  # the synthetic runs are the chapters' own (loaded, not rerun)
REAL_SEEDS = (0, 1, 2)  # three model seeds on the profile's data seed, per corpus and configuration
LEAKY = "leaky design, penalties only"


def real_configs(exp: Experiment) -> dict[str, Experiment]:
    """The configurations the book's summary rests on, for one data source (``exp.data.source``)."""
    configs2 = second.collapse_configs2(exp)
    remedies = second.remedy_configs(exp)
    leaky = first.penalties_only(exp).with_(model={"residual": "leaky"}, loss={"eps": 1e-8}, train={"weight_decay": 0.01})
    return {LEAKY: replace(leaky, name="real-leaky"), **configs2,
            "mse 0.01 (decay road)": remedies["mse 0.01"], "mrstft 0.01 (decay road)": remedies["mrstft 0.01"],
            second.POSITIVE: remedies[second.POSITIVE]}


def real(exp: Experiment) -> Plan:
    """``{"<source> | <configuration>": runs}``: every configuration of :func:`real_configs` on each source, three seeds."""
    plan: Plan = {}
    for source in REAL_SOURCES:
        e = exp.with_(data={"source": source})
        for name, cfg in real_configs(e).items():
            plan[f"{source} | {name}"] = first.replicate(cfg, REAL_SEEDS, [exp.data.seed])
    return plan
