# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py//py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# (ch-robust)=
# # Appendix: the reading of the seed, stress-tested
#
# The seed's setting, as chapter 4 reads it, fixes choices the seed does not state: each stream
# enters the model at unit RMS, the optimizer is AdamW with its decay on every parameter, and the
# novelty term is the largest |correlation| with the input and with stage 1's output. This page
# changes one of those readings at a time (`resmix.registrations.second.stress_configs`, fixed before the runs)
# and asks which of chapter 4's statements about the seed's setting survive: it does not collapse by
# epoch 21, it gets louder during training, and its output is nearly the same for every clip.
# Five model seeds on data seed {glue:text}`data_seed` per reading (chapter 4's ten pairs halved, for
# time), each compared run by run with the same seeds of the seed's setting.

# %% tags=["hide-input"]
# Colab or a fresh kernel: install resmix, the version this book was built with, when it is missing.
# tools/install_cell.py writes the source from _config.yml; RESMIX_INSTALL_SOURCE overrides it.
try:
    import resmix  # noqa: F401
except ImportError:
    import importlib, os, subprocess, sys  # noqa: E401
    source = os.environ.get("RESMIX_INSTALL_SOURCE", "git+https://github.com/resmix/resmix@v0.4.0")
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", f"resmix[book] @ {source}"])
    importlib.invalidate_caches()

# %% tags=["hide-input"]
import os

import numpy as np
import pandas as pd
from myst_nb import glue

from resmix import study
from resmix.book import readings, run_plans
from resmix.book.claims import Checks, announce, glue_all
from resmix.config import get_profile
from resmix.criteria import COLLAPSE, STATS, VERDICT_RULES
from resmix.measure.stats import paired_difference, values_by_seeds
from resmix.registrations import first, second

exp = get_profile()
checks = Checks(exp.profile)
RUNS = "_output/results/protocol"
plan = run_plans.robustness(exp)
print(announce(exp, run_plans.everything(plan | run_plans.decay_ablation(exp))))

# %%
runs = study.run_groups(plan, RUNS, workers=os.cpu_count(), progress=False)
seed_runs = [h for h in study.run_groups({"seed": first.replicate(first.collapse_configs(exp)[first.SEED_SETTING])},
                                         RUNS, workers=os.cpu_count(), progress=False)["seed"]
             if h.experiment.data.seed in run_plans.STRESS_DATA_SEEDS]
rows = {}
for name, hs in {"the seed's setting (chapter 4)": seed_runs, **runs}.items():
    d = readings.drift(hs)
    vs = None if hs is seed_runs else paired_difference(values_by_seeds(hs, "val_rms_ratio_db"), values_by_seeds(seed_runs, "val_rms_ratio_db"))
    collapsed21 = sum(COLLAPSE.collapsed(h.records[20]["val_rms_ratio_db"], h.records[20]["val_corr_target"]) for h in hs)
    rows[name] = {"runs": len(hs), "collapsed by epoch 21": collapsed21, "level at the end (dB)": np.mean([h.last["val_rms_ratio_db"] for h in hs]),
                  "drift (dB)": d.mean, "drift 95% CI": f"[{d.low:+.1f}, {d.high:+.1f}]",
                  "end vs the seed's setting (dB)": "-" if vs is None else f"{vs.mean:+.1f} [{vs.low:+.1f}, {vs.high:+.1f}]",
                  "common share": np.mean([h.last["val_common_share"] for h in hs]),
                  "no collapse": collapsed21 < VERDICT_RULES.min_share * len(hs),
                  "gets louder": d.verdict(STATS.level_margin_db) == "above",
                  "one waveform for all clips": np.mean([h.last["val_common_share"] for h in hs]) > 0.9}
table = pd.DataFrame(rows).T
table.round(2)

# %% mystnb={"image": {"alt": "Output level re target and common share over optimizer steps for the seed's setting under each reading, mean of five runs with min-max band"}}
from resmix.book import plots  # noqa: E402

fig = plots.curves({"the seed's setting": seed_runs, **runs}, ["val_rms_ratio_db", "val_common_share"],
                   ["output level re target (dB)", "common share"])
fig.axes[0].axhline(0, color="k", lw=0.8)
fig

# %% tags=["remove-cell"]
survive = {k: table[k].astype(bool) for k in ("no collapse", "gets louder", "one waveform for all clips")}
broken = {k: [n for n, ok in v.items() if not ok] for k, v in survive.items()}
n_collapsed = int(table["collapsed by epoch 21"].sum())
glue_all({"n_collapsed": n_collapsed, "n_stress_runs": int(table["runs"].sum()), "n_readings": len(runs),
          "data_seed": exp.data.seed, **{f"broken_{i}": ", ".join(v) or "none" for i, v in enumerate(broken.values())}})
checks.expect(not broken["no collapse"] and n_collapsed == 0, "the text says no run of any reading collapses")

# %% [markdown]
# **No reading makes the seed's setting collapse by epoch 21**: {glue:text}`n_collapsed` of
# {glue:text}`n_stress_runs` runs collapse, across the {glue:text}`n_readings` readings and the seed's own
# setting (the rule's 80% share is not needed to say it). Readings under which it does *not*
# get louder: {glue:text}`broken_1`. Readings under which its output is *not* mostly one waveform for
# every clip: {glue:text}`broken_2`. Chapter 4's verdict on C7 rests on the first statement; its
# explanation of the level (scale-invariant penalties, Adam's norm growth) on the second; chapter 2's
# account of input independence on the third.

# %% [markdown]
# ## Is the decay road's quiet the LayerNorm gains'? (exploratory)
#
# Chapter 4 explains the decay road by weight decay on LayerNorm's gains, which scale every block's
# output. Added after chapter 4's runs, so exploratory: the decay road against the same weight decay on the
# weight matrices only (no gains, no biases), five model seeds on data seed {glue:text}`data_seed`, paired.
# The explanation predicts that without decay on the gains the output ends louder by more than the
# {glue:text}`margin_db:g` dB margin.

# %%
ablation = study.run_groups(run_plans.decay_ablation(exp), RUNS, workers=os.cpu_count(), progress=False)
gains = paired_difference(*(values_by_seeds(ablation[k], "val_rms_ratio_db") for k in (run_plans.DECAY_MATRICES, run_plans.DECAY_ALL)))
pd.DataFrame({k: {"level at the end (dB)": np.mean([h.last["val_rms_ratio_db"] for h in hs]),
                  "RMS of the gains and biases": np.mean([h.last["weight_rms_vectors"] for h in hs]),
                  "RMS of the weight matrices": np.mean([h.last["weight_rms_matrices"] for h in hs])}
              for k, hs in ablation.items()}).T.round(3)

# %% tags=["remove-cell"]
glue_all({"margin_db": STATS.level_margin_db, "gains_d": gains.mean, "gains_lo": gains.low, "gains_hi": gains.high,
          "gains_n": gains.n, "gains_verdict": gains.verdict(STATS.level_margin_db),
          "gains_reading": {"above": "the explanation survives: the gains' decay is most of the quiet",
                            "below": "the explanation fails: without decay on the gains the output is quieter still",
                            "within": "the explanation fails: the gains' decay makes no difference beyond the margin",
                            "straddles": "the runs cannot tell"}[gains.verdict(STATS.level_margin_db)]})
checks.expect(gains.verdict(STATS.level_margin_db) == "above", "the introduction says decay on LayerNorm's gains is most of the decay road's quiet")

# %% [markdown]
# Decay on the matrices only ends {glue:text}`gains_d:+.1f` dB from the decay road (95% CI
# {glue:text}`gains_lo:+.1f` to {glue:text}`gains_hi:+.1f`, {glue:text}`gains_n` pairs: *{glue:text}`gains_verdict`*
# the margin): {glue:text}`gains_reading`.

# %% [markdown]
# Listen to each reading's output (model seed 0, the first held-out clip):

# %% tags=["hide-input"]
import torch  # noqa: E402

from resmix.book.listen import players  # noqa: E402
from resmix.data import frame, held_out, unframe  # noqa: E402

x_wave, y_wave = held_out(exp.data)
xf, yf = frame(x_wave[:1], exp.data.frame_size), frame(y_wave[:1], exp.data.frame_size)
listen = {"target": y_wave[0]}
for name, hs in {"the seed's setting": seed_runs, **runs}.items():
    h = next(h for h in hs if h.experiment.train.seed == 0)
    with torch.no_grad():
        listen[name] = unframe(study.load_model(h.experiment, RUNS)(xf, yf)[1])[0]
players(listen, exp.data.sample_rate, "_output/09_robustness")

# %% tags=["remove-input"]
checks.summary()
