# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py//py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# (ch-collapse)=
# # 4. The epoch-21 collapse
#
# The seed reports that the fixed design, trained with the anti-correlation and novelty
# penalties and zero reconstruction loss, collapsed around epoch 21 to near-constant quiet
# audio: output RMS 0.0042, "32x quieter than target", correlation 0.007 with the target (C7).
# This chapter names the forces on the output's *level*, tests the collapse with a protocol fixed
# before the runs, then maps each force: weight decay against the learning rate, the starting level
# apart from the effective learning rate, and $\varepsilon$ over seven decades.
#
# ## Which forces act on the level?
#
# Write the output as $g\,u$ with $u$ of unit RMS and $g$ its level. The penalties use the
# $\varepsilon$-stabilised Pearson correlation
#
# $$
# \rho_\varepsilon = \frac{\operatorname{cov}(o, t)}{s_o s_t + \varepsilon}
#   = \rho \cdot \frac{s}{s + \varepsilon}, \qquad s = s_o s_t ,
# \qquad \frac{\partial \log|\rho_\varepsilon|}{\partial \log s} = \frac{\varepsilon}{s + \varepsilon}.
# $$
#
# - With $\varepsilon \ll s$ the penalties are **scale-invariant**: their gradient has no
#   component along $g$, so they neither raise nor lower the level. Adam's normalised steps
#   along the other directions tend to *grow* the weights' norm.
# - With $\varepsilon$ comparable to $s$ they reward **shrinking**: a quieter output has a
#   smaller $|\rho_\varepsilon|$ whatever $\rho$ is, and a constant output scores exactly 0.
# - **Weight decay** (decoupled, {cite}`loshchilov2019adamw`) shrinks every weight by a factor
#   $1-\eta\lambda$ per step, against Adam's steps of about $\eta$: the weights drift towards an
#   equilibrium size of about $\sqrt{\eta/2\lambda}$ per coordinate over about $1/(\eta\lambda)$ steps.
#   Decaying LayerNorm's gains as well (AdamW's default, every parameter) pulls the output's scale
#   itself towards 0. At AdamW's default $\lambda$ = 0.01 (our reading of the seed's setup) and
#   $\eta = 10^{-3}$ that takes $10^5$ steps;
#   at $\lambda \ge 1$ it happens within a run.
# - A **waveform MSE** to the target scores silence ($\operatorname{Var} t$) better than any
#   equal-power signal uncorrelated with the target ($2\operatorname{Var} t$): with the
#   penalties forbidding correlation, MSE rewards quiet.
#
# - The **starting level** decides which regime a run begins in: $s$ is large for a loud
#   untrained output, small for a quiet one.
#
# Nothing in this objective rewards energy.

# %% tags=["hide-input"]
# Colab or a fresh kernel: install resmix, the version this book was built with, when it is missing.
# tools/install_cell.py writes the source from _config.yml; RESMIX_INSTALL_SOURCE overrides it.
try:
    import resmix  # noqa: F401
except ImportError:
    import importlib, os, subprocess, sys  # noqa: E401
    source = os.environ.get("RESMIX_INSTALL_SOURCE", "git+https://github.com/resmix/resmix@v0.3.0")
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", f"resmix[book] @ {source}"])
    importlib.invalidate_caches()

# %%
import os

import numpy as np
import pandas as pd
import torch
from myst_nb import glue

from resmix import metrics, plots, protocol, study
from resmix.config import get_profile
from resmix.criteria import COLLAPSE, DYNAMICS, STATS, VERDICT_RULES
from resmix.data import frame, held_out, unframe
from resmix.diagnostics import output_gain_for, output_scale_for
from resmix.dynamics import equilibrium_rms, prediction_rows, time_constant
from resmix.listen import players
from resmix.report import Claim, claims_html, glue_all, optimizer_steps, require, setup_html, table_html

exp = get_profile()
cfg = exp.data
x_wave, y_wave = held_out(cfg)  # held-out clips of data seed cfg.seed, [B, N]
xf, yf = frame(x_wave, cfg.frame_size), frame(y_wave, cfg.frame_size)  # [B, D, T]
PROTOCOL_RUNS = "_output/results/protocol"  # shared with chapter 5 and the scale check
configs = protocol.collapse_configs(exp)
seed_cfg = configs[protocol.SEED_SETTING]
START_DB = protocol.start_db(seed_cfg)
EPS_MATCHED = cfg.rms ** 2  # s = s_out * s_tgt when output and target are both at the target's RMS
EPOCH_SEED = min(21, exp.train.epochs)  # the seed's epoch
workers = os.cpu_count()
glue_all({"start_db": START_DB, "eps_matched": EPS_MATCHED, "quiet_db": COLLAPSE.quiet_db,
          "max_abs_corr": COLLAPSE.max_abs_corr, "min_share_pct": 100 * VERDICT_RULES.min_share,
          "margin_db": STATS.level_margin_db, "quiet_start_db": protocol.QUIET_START_DB,
          "strong_decay": protocol.STRONG_DECAY, "n_seeds": len(protocol.SEEDS), "n_data_seeds": len(protocol.DATA_SEEDS),
          "steps": optimizer_steps(seed_cfg), "steps_per_epoch": optimizer_steps(seed_cfg) // seed_cfg.train.epochs,
          "step_e21": EPOCH_SEED * optimizer_steps(seed_cfg) // seed_cfg.train.epochs})
print(f"profile {exp.profile}; untrained fixed design at {START_DB:+.1f} dB re the target")
setup_html(seed_cfg)

# %% [markdown]
# Every run of this chapter is defined here and trained in one grid, the longest first, so that both
# cores stay busy to the end; each section below loads its runs from the store.

# %%
c7_exps = {name: protocol.replicate(e) for name, e in configs.items()}
FACT_SEEDS = protocol.SEEDS[:3]  # three model seeds: what the time budget of a 2-core CPU allows
matched_cfg = configs[protocol.MATCHED_QUIET]
alone = {"matched ε, default start": matched_cfg.with_(model={"output_scale": 1.0}),
         "textbook ε, frozen start": matched_cfg.with_(loss={"eps": 1e-8})}
DYN_LRS, DYN_WDS = [1e-3, 3e-3], [0.01, 0.1, 1.0, 3.0]
DYN_WEIGHTS_ONLY = [(3e-3, 3.0)]  # the strongest decay, on the weight matrices only
DYN_EPOCHS = 32 if exp.profile == "quick" else exp.train.epochs  # quick: 1024 steps, so lr*wd*t spans 0.01-9
dyn_base = seed_cfg.with_(name="ch4-dyn", train={"epochs": DYN_EPOCHS})
dyn_exps = study.grid(dyn_base, {"train.weight_decay": [0.0]})  # no decay: the control
dyn_exps += study.grid(dyn_base, {"train.lr": DYN_LRS[:1], "train.weight_decay": DYN_WDS})
dyn_exps += study.grid(dyn_base, {"train.lr": DYN_LRS[1:], "train.weight_decay": DYN_WDS[2:]})  # decays that act within the run
dyn_exps += [e for lr, wd in DYN_WEIGHTS_ONLY
             for e in study.grid(dyn_base.with_(train={"decay": "weights"}), {"train.lr": [lr], "train.weight_decay": [wd]})]
SL_SEEDS = [0]  # one run per cell: what the time budget allows
gain = output_gain_for(protocol.QUIET_START_DB, START_DB)
scale = output_scale_for(protocol.QUIET_START_DB, START_DB)
sl_exps = {(how, eps): study.grid(seed_cfg.with_(name="ch4-start", loss={"eps": eps},
                                                  model={"output_gain": gain} if how == "shrunk weights (output_gain)"
                                                  else {"output_scale": scale}), {}, SL_SEEDS)
           for how in ("shrunk weights (output_gain)", "frozen gain (output_scale)") for eps in (1e-8, EPS_MATCHED)}
EPS_SWEEP = [1e-8, 1e-4, 1e-2, 1e-1]  # seven decades
EPS_EPOCHS = 6 if exp.profile == "quick" else exp.train.epochs // 3
STARTS = {f"default ({START_DB:+.0f} dB)": 1.0, f"frozen {protocol.QUIET_START_DB:+.0f} dB": scale}
eps_base = seed_cfg.with_(name="ch4-eps", train={"epochs": EPS_EPOCHS})
eps_exps = study.grid(eps_base, {"loss.eps": EPS_SWEEP, "model.output_scale": list(STARTS.values()),
                                 "loss.corr_axes": ["clip", "frame", "batch"]})
everything = (dyn_exps + [e for es in c7_exps.values() for e in es]
              + [e for a in alone.values() for e in protocol.replicate(a, FACT_SEEDS, [cfg.seed])]
              + [e for es in sl_exps.values() for e in es] + eps_exps)
print(f"{len(everything)} runs, {sum(optimizer_steps(e) for e in everything):,} optimizer steps in all")
study.run_grid(everything, PROTOCOL_RUNS, workers=workers, progress=False);

# %% [markdown]
# ## The pre-registered test
#
# Three configurations, each run with {glue:text}`n_seeds` model seeds on {glue:text}`n_data_seeds`
# data seeds (every seed on every data set, so each pair of configurations can be compared run by
# run), {glue:text}`steps` optimizer steps of {glue:text}`steps_per_epoch` per epoch, so the seed's
# epoch 21 is step {glue:text}`step_e21`:
#
# - **the seed's setting** as we read it: the table above;
# - **matched ε, quiet start**: $\varepsilon = \varepsilon_m$ = {glue:text}`eps_matched:g`, the value of
#   $s$ when output and target are both at the target's RMS, and an output started
#   {glue:text}`quiet_start_db:.0f` dB below the target by a *frozen* gain on each stage's output branch
#   (`ModelConfig.output_scale`), so the trainable weights keep PyTorch's initial size;
# - **strong decay**: the seed's setting with weight decay {glue:text}`strong_decay:g`, so that
#   $\eta\lambda t$ reaches about 2 within the run.
#
# The configurations, the criteria and the rule that turns them into a verdict were written into
# `resmix.protocol` and `resmix.criteria` before any of these runs. A run has **collapsed** when it
# is {glue:text}`quiet_db:.0f` dB or more below the target with |mean correlation| below
# {glue:text}`max_abs_corr:g`; it is **quiet** when it ends below the target's level. C7 is
# *supported* if the seed's setting collapses by epoch 21 in at least {glue:text}`min_share_pct:.0f`%
# of its runs; *partly* if it does not but another configuration ends quiet in that share of its runs
# *and* its final level is below the seed's setting's, the 95% bootstrap interval of the paired
# difference lying entirely below −{glue:text}`margin_db:g` dB; *refuted* otherwise.
#
# What was fixed when: the configurations were chosen from the first book's findings (its quiet
# condition, with the start now set by a frozen gain) and from the weight-decay prediction, and
# committed with the criteria and the rule before any run of this chapter. The later sections (the
# weight-decay grid, the two ways of setting the start, the ε map) are descriptive: one or two runs
# per cell, read after seeing them, and no verdict rests on them.

# %%
c7_runs = study.run_groups(c7_exps, PROTOCOL_RUNS, workers=workers, progress=False)
c7_flat = [h for hs in c7_runs.values() for h in hs]
c7 = protocol.c7_verdict(c7_runs)
print(f"{len(c7_flat)} runs on {c7_flat[0].meta['device']}; C7 by the registered rule: {c7.verdict} ({c7.reason})")
table_html(protocol.c7_rows(c7), index="configuration", digits=2)

# %% mystnb={"image": {"alt": "Output level relative to the target and correlation with the target over optimizer steps for the three pre-registered configurations, mean of ten runs with min-max band"}}
fig = plots.curves(c7_runs, ["val_rms_ratio_db", "val_common_share"],
                   ["output level relative to target (dB)", "common share (input-independent power)"])
fig.axes[0].axhline(COLLAPSE.quiet_db, color="k", ls=":", lw=1)
fig.axes[0].axhline(0, color="k", lw=0.8)
fig.axes[0].axvline(EPOCH_SEED * c7_flat[0].steps_per_epoch, color="grey", ls="--", lw=0.8)
fig

# %%
def at_epoch(hs, key, epoch=-1):
    return float(np.mean([h.records[epoch][key] for h in hs]))


c7_more = pd.DataFrame([{"configuration": n, "level after epoch 1": at_epoch(hs, "val_rms_ratio_db", 0),
                         f"level after epoch {EPOCH_SEED}": at_epoch(hs, "val_rms_ratio_db", EPOCH_SEED - 1),
                         "level at the end": at_epoch(hs, "val_rms_ratio_db"),
                         "corr with target": at_epoch(hs, "val_corr_target"),
                         "|corr| per clip": at_epoch(hs, "val_abs_corr_target"),
                         "std/RMS": at_epoch(hs, "val_ac_fraction"), "common share": at_epoch(hs, "val_common_share"),
                         "swap input": at_epoch(hs, "val_swap_input"), "swap target": at_epoch(hs, "val_swap_target")}
                        for n, hs in c7_runs.items()]).set_index("configuration")
c7_more.round(3)

# %% tags=["remove-cell"]
from resmix.stats import paired_difference, values_by_seeds  # noqa: E402


def drift(hs):
    """Each run's final level minus its level after epoch 1, paired: what training did, start removed."""
    return paired_difference(values_by_seeds(hs, "val_rms_ratio_db"), values_by_seeds(hs, "val_rms_ratio_db", epoch=0))


S, M, W = (c7.configs[k] for k in (protocol.SEED_SETTING, protocol.MATCHED_QUIET, protocol.STRONG))
drifts = {k: drift(hs) for k, hs in c7_runs.items()}
rise, m_drift, w_drift = (drifts[k] for k in (protocol.SEED_SETTING, protocol.MATCHED_QUIET, protocol.STRONG))
ac_runs = [h.last["val_ac_fraction"] for hs in c7_runs.values() for h in hs]
row = c7_more.loc
glue_all({"n_runs": S.n, "seed_ep1": row[protocol.SEED_SETTING, "level after epoch 1"],
          "seed_e21": row[protocol.SEED_SETTING, f"level after epoch {EPOCH_SEED}"], "seed_end": S.level_end_db,
          "rise": rise.mean, "rise_lo": rise.low, "rise_hi": rise.high, "epoch_seed": EPOCH_SEED,
          "m_21": M.collapsed_at_21, "m_end_n": M.collapsed_end, "m_e21": row[protocol.MATCHED_QUIET, f"level after epoch {EPOCH_SEED}"],
          "m_ep1": row[protocol.MATCHED_QUIET, "level after epoch 1"], "m_end": M.level_end_db,
          "m_drift": m_drift.mean, "m_drift_lo": m_drift.low, "m_drift_hi": m_drift.high,
          "m_vs_seed_report": M.level_end_db - (-30.1),  # the seed's -30.1 dB (0.0042 against its target)
          "m_diff": M.vs_seed.mean, "m_lo": M.vs_seed.low, "m_hi": M.vs_seed.high,
          "m_corr": row[protocol.MATCHED_QUIET, "corr with target"],
          "w_end": W.level_end_db, "w_quiet": W.quiet_end, "w_ep1": row[protocol.STRONG, "level after epoch 1"],
          "w_drift": w_drift.mean, "w_drift_lo": w_drift.low, "w_drift_hi": w_drift.high,
          "ac_min_run": min(ac_runs), "ac_max": max(ac_runs), "frozen_db": 20 * np.log10(configs[protocol.MATCHED_QUIET].model.output_scale),
          "common_min": c7_more["common share"].min(), "swap_max": c7_more[["swap input", "swap target"]].values.max(),
          "c7_verdict": c7.verdict})
assert c7.verdict == "partly", "the text below reads C7 as partly"
assert S.collapsed_end == 0 and S.quiet_end == 0 and rise.verdict(STATS.level_margin_db) == "above", \
    "the text says the seed's setting gets louder in every run"
assert M.collapsed_at_21 >= VERDICT_RULES.min_share * M.n, "the text says the matched, quiet-start runs collapse by epoch 21"
assert m_drift.verdict(STATS.level_margin_db) == "below" and w_drift.verdict(STATS.level_margin_db) == "below", \
    "the text says training itself lowers the level in both quiet configurations"
assert W.quiet_end >= VERDICT_RULES.min_share * W.n and W.collapsed_end == 0, "the text says strong decay: quiet, not collapsed"
assert c7_more["common share"].min() > 0.9, "the text says every configuration's output is mostly one shared waveform"
assert min(ac_runs) > 0.3, "the text says no output is constant in time"

# %% [markdown]
# **The seed's setting does not collapse: it gets louder.** After the first epoch its output is at
# {glue:text}`seed_ep1:+.1f` dB, at epoch {glue:text}`epoch_seed` at {glue:text}`seed_e21:+.1f` dB and
# at the end at {glue:text}`seed_end:+.1f` dB; the paired rise from the first epoch to the end is
# {glue:text}`rise:+.1f` dB (95% CI {glue:text}`rise_lo:+.1f` to {glue:text}`rise_hi:+.1f`). No run of
# it goes quiet.
#
# **With ε matched to the signals' scale and a start attenuated by a frozen gain, the collapse the
# seed describes happens.** The frozen gain ({glue:text}`frozen_db:.1f` dB on each stage's output
# branch) sets where a run starts; training then takes it further down: from
# {glue:text}`m_ep1:+.1f` dB after the first epoch to {glue:text}`m_end:+.1f` dB at the end, a paired
# drift of {glue:text}`m_drift:+.1f` dB (95% CI {glue:text}`m_drift_lo:+.1f` to
# {glue:text}`m_drift_hi:+.1f`), where the seed's setting rose. {glue:text}`m_21` of
# {glue:text}`n_runs` runs have collapsed by epoch {glue:text}`epoch_seed` (mean level there
# {glue:text}`m_e21:+.1f` dB), {glue:text}`m_end_n` at the end, with a correlation of
# {glue:text}`m_corr:+.3f` with the target. That reproduces the seed's report qualitatively; the
# level ends {glue:text}`m_vs_seed_report:+.1f` dB from the seed's −30.1 dB, and how many of our
# epochs make one of the seed's is unknown. (Against the seed's setting the final level differs by
# {glue:text}`m_diff:+.1f` dB, 95% CI {glue:text}`m_lo:+.1f` to {glue:text}`m_hi:+.1f`; that
# difference includes the two starts.)
#
# **Strong weight decay makes the output quiet, not collapsed**: from {glue:text}`w_ep1:+.1f` dB after
# the first epoch it drifts {glue:text}`w_drift:+.1f` dB (95% CI {glue:text}`w_drift_lo:+.1f` to
# {glue:text}`w_drift_hi:+.1f`) to {glue:text}`w_end:+.1f` dB, below the target in
# {glue:text}`w_quiet` of {glue:text}`n_runs` runs, but far from the −20 dB of a collapse within
# these steps.
#
# **"Near-constant" is the wrong word.** No output is constant in time: the share of its RMS that
# varies (std / RMS) is {glue:text}`ac_min_run:.2f` to {glue:text}`ac_max:.2f` over all runs, where a
# constant scores 0 (the lowest runs do carry a large DC part). What they all are is nearly the same
# waveform for every clip: a common share of at least {glue:text}`common_min:.3f` per configuration,
# and swapping a clip's input or target changes the output by at most {glue:text}`swap_max:.2f` of its
# norm ({ref}`chapter 2 <input-independent>` explains why the penalties allow it).
#
# The intervals treat the ten (seed, data seed) pairs as independent, though the five seeds on one
# data set share it; with effects of tens of dB this decides nothing here, but an interval's width
# should not be read finely.
#
# ### Which condition does it? (exploratory)
#
# The collapsing configuration changes two things at once. Added after a review of the runs above,
# and so exploratory: each condition alone, with model seeds 0-2 on data seed
# {glue:text}`data_seed`, paired with the same runs of the collapsing configuration.

# %%
alone_runs = {k: study.run_grid(protocol.replicate(e, FACT_SEEDS, [cfg.seed]), PROTOCOL_RUNS, workers=workers, progress=False)
              for k, e in alone.items()}
both_runs = [h for h in c7_runs[protocol.MATCHED_QUIET]
             if study.setting(h, "data.seed") == cfg.seed and study.setting(h, "train.seed") in FACT_SEEDS]
alone_rows = []
for k, hs in {"both (the collapsing configuration)": both_runs, **alone_runs}.items():
    d = drift(hs)
    vs = None if hs is both_runs else paired_difference(values_by_seeds(hs, "val_rms_ratio_db"),
                                                        values_by_seeds(both_runs, "val_rms_ratio_db"))
    alone_rows.append({"condition": k, "level after epoch 1": at_epoch(hs, "val_rms_ratio_db", 0),
                       "level at the end": at_epoch(hs, "val_rms_ratio_db"),
                       "collapsed": sum(COLLAPSE.collapsed(h.last["val_rms_ratio_db"], h.last["val_corr_target"]) for h in hs),
                       "drift": d.mean, "drift low": d.low, "drift high": d.high,
                       "end vs both": None if vs is None else vs.mean, "low": None if vs is None else vs.low,
                       "high": None if vs is None else vs.high})
alone_table = pd.DataFrame(alone_rows).set_index("condition")
table_html(alone_table, digits=2)

# %% tags=["remove-cell"]
a_eps, a_start = (alone_table.loc[k] for k in alone)
glue_all({"a_eps_end": a_eps["level at the end"], "a_eps_drift": a_eps["drift"], "a_eps_collapsed": int(a_eps["collapsed"]),
          "a_start_end": a_start["level at the end"], "a_start_drift": a_start["drift"],
          "a_start_collapsed": int(a_start["collapsed"]), "n_fact": len(FACT_SEEDS)})
assert a_eps["collapsed"] == 0 and a_start["collapsed"] == 0, "the text says neither condition alone collapses"

# %% [markdown]
# Neither condition alone collapses a run: with the matched ε and PyTorch's start the output ends at
# {glue:text}`a_eps_end:+.1f` dB (drift {glue:text}`a_eps_drift:+.1f` dB), with the frozen start and the
# textbook ε at {glue:text}`a_start_end:+.1f` dB (drift {glue:text}`a_start_drift:+.1f` dB);
# {glue:text}`a_eps_collapsed` and {glue:text}`a_start_collapsed` of {glue:text}`n_fact` runs
# collapse. The collapse needs both.

# %% [markdown]
# ## Weight decay against the learning rate
#
# AdamW moves each weight by about $\eta$ per step in a direction set by the gradient's sign
# history and shrinks it by a factor $1-\eta\lambda$. If the updates behave like a random walk, the
# weights settle where the two balance, at an RMS of $\sqrt{\eta/2\lambda}$ per coordinate, reached
# over about $1/(\eta\lambda)$ steps (`resmix.dynamics`, which also solves the approach exactly).
# The prediction depends on $\eta\lambda t$, so the grid spans it: learning rates
# {glue:text}`dyn_lrs` and weight decays {glue:text}`dyn_wds` (no decay, 0.01 and 0.1 at the first rate only),
# {glue:text}`dyn_steps` steps each
# (model seed 0, data seed {glue:text}`data_seed`), the textbook $\varepsilon$ and the default start;
# the largest decay is also run decaying only the weight matrices (`decay="weights"`), not the
# biases and LayerNorm parameters. The prediction is judged only where $\eta\lambda t \ge$
# {glue:text}`dyn_min_product:g` and holds when measured and predicted agree within a factor
# {glue:text}`dyn_band:g` (`resmix.criteria.DYNAMICS`, fixed before the runs).

# %%
dyn_runs = study.run_grid(dyn_exps, PROTOCOL_RUNS, workers=workers, progress=False)
dyn = pd.DataFrame(prediction_rows(dyn_runs))
tail = slice(-max(1, DYN_EPOCHS // 4), None)  # the last quarter of the run: Adam's update size, averaged
dyn["adam_u_rms"] = [float(np.mean(h.series("adam_update_rms")[tail])) for h in dyn_runs]
dyn["ratio_u"] = dyn["ratio"] / dyn["adam_u_rms"]  # exploratory: the prediction with the measured update size
dyn["vectors_rms"] = [h.last["weight_rms_vectors"] for h in dyn_runs]
dyn["level_db"] = [h.last["val_rms_ratio_db"] for h in dyn_runs]
dyn["common_share"] = [h.last["val_common_share"] for h in dyn_runs]
glue_all({"dyn_lrs": " and ".join(f"{v:g}" for v in DYN_LRS), "dyn_wds": ", ".join(f"{v:g}" for v in [0.0] + DYN_WDS),
          "dyn_steps": dyn_runs[0].last["step"], "data_seed": cfg.seed, "dyn_min_product": DYNAMICS.min_product,
          "dyn_band": DYNAMICS.ratio_band})
table_html(dyn.drop(columns=["steps"]), digits=4)

# %% mystnb={"image": {"alt": "Weight RMS of the matrices over optimizer steps for each learning rate and weight decay, measured solid and predicted dashed"}}
plots.weight_rms_vs_prediction({f"lr {h.experiment.train.lr:g}, wd {h.experiment.train.weight_decay:g}": h
                                for h in dyn_runs if h.experiment.train.decay == "all"})

# %% mystnb={"image": {"alt": "Final output level against lr times weight decay times steps, for decay on all parameters and on weight matrices only"}}
plots.level_vs_time_constants(dyn, hlines=(0.0, COLLAPSE.quiet_db))

# %% tags=["remove-cell"]
import math  # noqa: E402

from resmix.dynamics import predicted_rms  # noqa: E402

dyn["predicted_u"] = [float(predicted_rms(r.rms0, r.lr, r.weight_decay, r.steps, update_rms=r.adam_u_rms))
                      if r.weight_decay > 0 else float("nan") for r in dyn.itertuples()]
judged = dyn[dyn["judged"]]
small = dyn[dyn["lr_wd_steps"] < DYNAMICS.min_product]
pairs = dyn[dyn["weight_decay"] > 0].pivot_table(index=["lr", "weight_decay"], columns="decay",
                                                 values=["level_db", "vectors_rms", "measured"]).dropna()
all_quiet = dyn[(dyn["decay"] == "all") & (dyn["level_db"] < 0)]
ratio_u = judged["measured"] / judged["predicted_u"]
U_NOISE = math.sqrt((1 - 0.9) / (1 + 0.9))  # Adam's |m_hat| / sqrt(v_hat) for zero-mean noise, beta1 = 0.9
glue_all({"u_noise": U_NOISE, "n_judged": len(judged), "n_hold": int((judged["holds"] == True).sum()),  # noqa: E712
          "ratio_min": judged["ratio"].min(), "ratio_max": judged["ratio"].max(),
          "u_min": judged["adam_u_rms"].min(), "u_max": judged["adam_u_rms"].max(),
          "ratio_u_min": ratio_u.min(), "ratio_u_max": ratio_u.max(), "n_hold_u": int(sum(map(DYNAMICS.holds, judged["measured"], judged["predicted_u"]))),
          "rms0": dyn["rms0"].iloc[0], "small_min_db": small["level_db"].min(), "small_max_db": small["level_db"].max(),
          "cross_product": all_quiet["lr_wd_steps"].min() if len(all_quiet) else float("nan"),
          "weights_louder_db": float((pairs["level_db", "weights"] - pairs["level_db", "all"]).mean()),
          "vec_all": float(pairs["vectors_rms", "all"].mean()), "vec_weights": float(pairs["vectors_rms", "weights"].mean()),
          "mat_all": float(pairs["measured", "all"].mean()), "mat_weights": float(pairs["measured", "weights"].mean())})
assert (small["level_db"] > 0).all(), "the text says runs with less than one time constant end louder than the target"
assert len(all_quiet) and (pairs["level_db", "weights"] > pairs["level_db", "all"]).all(), \
    "the text says decaying every parameter ends quieter than decaying the matrices only, at every (lr, wd)"
assert (judged["ratio"] < 1).all(), "the text says the measured weights end below the prediction"
assert (ratio_u > 1).all(), "the text says the corrected prediction is smaller than the measured weights"
assert judged["adam_u_rms"].max() < U_NOISE, "the text says the update is smaller than a noise gradient's"

# %% [markdown]
# **Below one time constant** (ηλt < 1, the no-decay control included) the weight matrices
# stay near their initial RMS of {glue:text}`rms0:.3f` and the output drifts *louder*, ending at
# {glue:text}`small_min_db:+.1f` to {glue:text}`small_max_db:+.1f` dB. **Where ηλt ≥ 1 the
# registered prediction holds in {glue:text}`n_hold` of {glue:text}`n_judged` runs**: the matrices
# end at {glue:text}`ratio_min:.2f` to {glue:text}`ratio_max:.2f` times the predicted size, always
# below it. The prediction takes Adam's normalised update $\hat m/\sqrt{\hat v}$ to have an RMS of 1,
# its size when the gradient keeps its sign. Measured over the last quarter of these runs it is
# {glue:text}`u_min:.3f` to {glue:text}`u_max:.3f`, smaller even than the {glue:text}`u_noise:.2f` of a
# zero-mean noise gradient: the gradients' running mean is small next to their running RMS
# (consistent with noisy gradients, or with $\hat v$ still remembering the larger gradients of the
# run's start: $\beta_2$ = 0.999 averages over about a thousand steps).
# *Exploratory* (a correction chosen after seeing the data): with the measured update size in place
# of 1, the same formula predicts weights {glue:text}`ratio_u_min:.1f` to {glue:text}`ratio_u_max:.1f`
# times *smaller* than measured, within a factor 2 in {glue:text}`n_hold_u` of
# {glue:text}`n_judged` runs. The weights sit between the two predictions; the update size changes
# over a run, and the equilibrium argument needs it steady. What the grid does show plainly is the
# direction: more decay, smaller weights, quieter output.
#
# **The output's level follows the decay of the LayerNorm and bias parameters, not of the
# matrices.** Decaying every parameter (torch's default), the output ends below the target from
# ηλt = {glue:text}`cross_product:.1f` on. Decaying only the matrices, at the same (η, λ), it ends
# {glue:text}`weights_louder_db:.0f` dB louder on average, although its matrices shrink too
# (RMS {glue:text}`mat_weights:.4f` against {glue:text}`mat_all:.4f`; one run per cell, so this reading
# is exploratory): the LayerNorm gains and biases,
# left alone, keep an RMS of {glue:text}`vec_weights:.2f`, against {glue:text}`vec_all:.2f` when
# decayed. A LayerNorm gain multiplies the output projection's input directly, so decaying it turns
# the whole output down. Weight decay can make the output quiet; at AdamW's default of 0.01 it would
# need about $10^5$ steps to do so.

# %% [markdown]
# ## Starting level and effective learning rate, separated (exploratory)
#
# The first book set the start by shrinking the output projections' initial weights
# (`output_gain`). That also makes Adam's steps of about $\eta$ large relative to those weights,
# so start and effective learning rate moved together. Here the same start,
# {glue:text}`quiet_start_db:.0f` dB, is set both ways, at both $\varepsilon$ (model seed 0,
# data seed {glue:text}`data_seed`); the frozen-gain runs at $\varepsilon_m$ are the pre-registered
# ones above.

# %%
sl_runs = study.run_groups(sl_exps, PROTOCOL_RUNS, workers=workers, progress=False)
sl = pd.DataFrame([{"start set by": how, "eps": f"{eps:g}", "level after epoch 1": at_epoch(hs, "val_rms_ratio_db", 0),
                    "level at the end": at_epoch(hs, "val_rms_ratio_db"),
                    "output weight RMS at the end": at_epoch(hs, "weight_rms_output")}
                   for (how, eps), hs in sl_runs.items()])
sl.round(3)

# %% tags=["remove-cell"]
sl_i = sl.set_index(["start set by", "eps"])
g_tiny_start = protocol.QUIET_START_DB
g_tiny, g_m = sl_i.loc[("shrunk weights (output_gain)", "1e-08")], sl_i.loc[("shrunk weights (output_gain)", f"{EPS_MATCHED:g}")]
f_tiny, f_m = sl_i.loc[("frozen gain (output_scale)", "1e-08")], sl_i.loc[("frozen gain (output_scale)", f"{EPS_MATCHED:g}")]
glue_all({"g_tiny_1": g_tiny["level after epoch 1"], "g_tiny_end": g_tiny["level at the end"],
          "f_tiny_1": f_tiny["level after epoch 1"], "f_tiny_end": f_tiny["level at the end"],
          "g_m_end": g_m["level at the end"], "f_m_end": f_m["level at the end"]})
assert g_tiny["level after epoch 1"] > g_tiny_start + STATS.level_margin_db, "the text says shrunk weights regrow within an epoch"
assert f_m["level at the end"] <= COLLAPSE.quiet_db < g_m["level at the end"], "the text says only the frozen start collapses at eps_m"

# %% [markdown]
# **The start set by shrinking the weights does not stay set.** At $\varepsilon = 10^{-8}$ an output
# started at {glue:text}`quiet_start_db:.0f` dB through `output_gain` is at {glue:text}`g_tiny_1:+.1f` dB
# after one epoch and ends at {glue:text}`g_tiny_end:+.1f` dB: Adam's steps of about $\eta$ regrow
# the shrunken weights. Through the frozen gain it is at {glue:text}`f_tiny_1:+.1f` dB after one
# epoch and ends at {glue:text}`f_tiny_end:+.1f` dB. At $\varepsilon_m$:
# {glue:text}`g_m_end:+.1f` dB with shrunk weights, {glue:text}`f_m_end:+.1f` dB with the frozen gain:
# only the frozen gain collapses (one run each, read after seeing them). The first book's starting
# levels therefore also changed the effective learning rate. A frozen gain is not only a start: it
# stays, and the weights must grow to undo it.

# %% [markdown]
# ## ε over seven decades, crossed with the start and the correlation's axes
#
# $\varepsilon$ matters only relative to the product of standard deviations it is added to, and that
# product depends on what one correlation is computed over: each clip over $D\times T$ (the seed's
# and this book's definition), each frame over its $D$ samples (a frame's standard deviation is
# smaller than a clip's where the audio is quiet), or one correlation pooled over the whole batch.
# One run per cell (model seed 0, data seed {glue:text}`data_seed`), {glue:text}`eps_steps` steps:
# a descriptive map, not a verdict.

# %%
eps_runs = study.run_grid(eps_exps, PROTOCOL_RUNS, workers=workers, progress=False)
eps_table = pd.DataFrame([{"eps": study.setting(h, "loss.eps"), "start": next(n for n, v in STARTS.items()
                                                                              if v == study.setting(h, "model.output_scale")),
                           "axes": study.setting(h, "loss.corr_axes"), "level_db": h.last["val_rms_ratio_db"],
                           "corr": h.last["val_corr_target"]} for h in eps_runs])
glue("eps_steps", eps_runs[0].last["step"], display=False)
eps_pivot = eps_table.pivot_table(index=["start", "axes"], columns="eps", values="level_db", sort=False)
eps_pivot.round(1)

# %% mystnb={"image": {"alt": "Final output level against epsilon on a log axis, one line per starting level and correlation axes"}}
plots.sweep(EPS_SWEEP, {f"{s}, {a}": list(row) for (s, a), row in eps_pivot.iterrows()},
            "epsilon in the correlation's denominator", "final output level re target (dB)",
            hlines=(0.0, COLLAPSE.quiet_db))

# %% tags=["remove-cell"]
loud, quiet = (eps_table[eps_table["start"] == k] for k in STARTS)
collapsed_cells = quiet[quiet["level_db"] <= COLLAPSE.quiet_db]
glue_all({"loud_min_db": loud["level_db"].min(), "quiet_small_eps_max": quiet[quiet["eps"] <= 1e-4]["level_db"].max(),
          "quiet_small_eps_min": quiet[quiet["eps"] <= 1e-4]["level_db"].min(),
          "collapse_cells": ", ".join(f"ε = {e:g} per {a}" for e, a in zip(collapsed_cells["eps"], collapsed_cells["axes"])) or "none",
          "frame_1e2": float(eps_pivot.loc[(list(STARTS)[1], "frame"), 1e-2]),
          "clip_1e2": float(eps_pivot.loc[(list(STARTS)[1], "clip"), 1e-2])})
assert (loud["level_db"] > 0).all(), "the text says no eps makes a loud start quiet"
assert (quiet[quiet["eps"] <= 1e-4]["level_db"] > COLLAPSE.quiet_db).all(), "the text says small eps never collapses"
assert len(collapsed_cells) and (collapsed_cells["eps"] >= 1e-2).all(), "the text says collapse needs eps >= 1e-2"

# %% [markdown]
# **From the loud default start, no ε makes the output quiet** (the lowest final level is
# {glue:text}`loud_min_db:+.1f` dB, at the largest ε). **From the frozen quiet start, ε decides**: up
# to $10^{-4}$ the output ends between {glue:text}`quiet_small_eps_min:+.1f` and
# {glue:text}`quiet_small_eps_max:+.1f` dB, where the frozen gain holds it; it collapses below
# −20 dB by step {glue:text}`eps_steps` only at {glue:text}`collapse_cells`. These runs are a third
# as long as the others: the map shows where a run stands after {glue:text}`eps_steps` steps, not
# where it ends (the cell at ε = 0.01 per clip is, up to ε's last digit, the collapsing configuration
# above, which crosses −20 dB later). The correlation's axes move the level as expected: a frame's
# standard deviation is smaller than a clip's, so the same ε weighs more per frame
# ({glue:text}`frame_1e2:+.1f` dB per frame against {glue:text}`clip_1e2:+.1f` dB per clip at
# ε = 0.01).

# %% [markdown]
# ## The level meter, epoch by epoch
#
# The seed's report, for the quietest pre-registered configuration (model seed 0, data seed
# {glue:text}`data_seed`), every third epoch:

# %%
quietest = min(c7_runs, key=lambda n: c7.configs[n].level_end_db)
h_q = next(h for h in c7_runs[quietest] if study.setting(h, "train.seed") == 0 and study.setting(h, "data.seed") == cfg.seed)
print(quietest)
for r in h_q.records[::3] + [h_q.records[-1]]:
    print(f"epoch {int(r['epoch']):>3}  Output : {metrics.level_meter(r['val_rms_output'], width=30)}  "
          f"RMS {r['val_rms_output']:.4f} ({r['val_rms_ratio_db']:+.1f} dB)  corr→target {r['val_corr_target']:+.3f}")

# %% [markdown]
# ## How the gradient sees the level
#
# $\partial \log|\rho_\varepsilon| / \partial \log s = \varepsilon / (s + \varepsilon)$ is the share of the
# penalty that shrinking removes. At the level the pre-registered runs reach after the first epoch
# and at the end (means over runs):

# %%
pull = []
for name, hs in c7_runs.items():
    eps = hs[0].experiment.loss.eps
    s0 = float(np.mean([h.records[0]["val_rms_output"] * h.records[0]["val_rms_target"] for h in hs]))
    s1 = float(np.mean([h.last["val_rms_output"] * h.last["val_rms_target"] for h in hs]))
    pull.append({"configuration": name, "eps": f"{eps:g}", "s after epoch 1": s0, "pull after epoch 1": eps / (s0 + eps),
                 "s at the end": s1, "pull at the end": eps / (s1 + eps)})
pd.DataFrame(pull).set_index("configuration").round(5)

# %% [markdown]
# At $\varepsilon = 10^{-8}$ the pull is nil at every level. At $\varepsilon_m$ it is about one half
# where $s = \varepsilon_m$ and tends to 1 as the output shrinks, so a run that starts below the
# threshold is pulled ever harder towards silence, while one that starts loud hardly feels it.

# %% [markdown]
# Listen to each pre-registered configuration (model seed 0, data seed {glue:text}`data_seed`):

# %%
listen = {"target": y_wave[0]}
for name, es in c7_exps.items():
    e = next(e for e in es if e.train.seed == 0 and e.data.seed == cfg.seed)
    with torch.no_grad():
        listen[name] = unframe(study.load_model(e, PROTOCOL_RUNS)(xf[:1], yf[:1])[1])[0]
players(listen, cfg.sample_rate, "_output/04_collapse")

# %% [markdown]
# ## What we measured

# %%
s_sum = c7.configs[protocol.SEED_SETTING]
claims = [Claim("C7", "zero reconstruction: collapse to quiet, near-constant output by epoch ~21",
                "epoch 21, 32x quieter (-30.1 dB), corr 0.007",
                "; ".join(f"{n}: {c.collapsed_at_21}/{c.n} collapsed by epoch {EPOCH_SEED}, ends {c.level_end_db:+.1f} dB"
                          + ("" if c.vs_seed is None else f" ({c.vs_seed.mean:+.1f} dB vs the seed's setting, "
                             f"95% CI [{c.vs_seed.low:+.1f}, {c.vs_seed.high:+.1f}])")
                          for n, c in c7.configs.items()), c7.verdict)]
require(claims, {"C7": "partly"})  # the text and the introduction read C7 as partly
glue("claims", claims_html(claims), display=False)
claims_html(claims)

# %% [markdown]
# **Verdict on C7: {glue:text}`c7_verdict`**, by the rule fixed before the runs. The seed's setting
# as we read it (textbook ε, AdamW's default decay, PyTorch's initial scale) does not collapse: its
# output gets louder. The collapse the seed describes, {glue:text}`quiet_db:.0f` dB or more below the
# target and uncorrelated by
# epoch 21, happens reliably under two conditions the seed does not state: an ε in the correlation
# comparable to the product of the signals' standard deviations, and an output attenuated from the
# start by a fixed gain (each alone does not collapse a run; exploratory).
# Strong weight decay on every parameter is a second, slower road to a quiet output, through
# LayerNorm's gains. No configuration gives a constant output; every one gives nearly the same
# output for every clip. If your model went quiet, look first at the ε in your correlation, your
# output's initial level, and what your weight decay is applied to.
#
# The {ref}`appendix <ch-scale>` reruns the three configurations at four times the steps and twice
# the width. {ref}`Chapter 5 <ch-remedy>` starts from the configuration that collapses and asks what
# stops it.
