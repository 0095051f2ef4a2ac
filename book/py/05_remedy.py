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
# (ch-remedy)=
# # 5. The reconstruction-loss remedy
#
# The seed's remedy: "add small reconstruction loss (e.g., 0.01)" (C8). A reconstruction loss
# pulls the output *towards* the target while the penalties push its correlation *away*; what
# the pair settles on depends on the kind of reconstruction. A waveform MSE is phase-sensitive
# and, with correlation forbidden, prefers silence ({ref}`chapter 4 <ch-collapse>`). A
# multi-resolution STFT magnitude loss {cite}`yamamoto2020parallel` is phase-blind: it can be
# satisfied by a signal with the target's spectrum and none of its waveform. A VICReg-style
# variance hinge {cite}`bardes2022vicreg` asks only for energy. This chapter first tests the
# instrument that judges them, then adds each to the configuration that collapses without them
# ({ref}`chapter 4 <ch-collapse>`: $\varepsilon$ in the correlation equal to $s$ at the target's
# level, and an output started 12 dB below the target by a frozen gain), with the protocol, seeds
# and verdict rule fixed before the runs.

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

from resmix import metrics, plots, protocol, score, study
from resmix.config import get_profile
from resmix.criteria import REMEDY, STATS, VERDICT_RULES
from resmix.data import frame, held_out, unframe
from resmix.measure import final_output
from resmix.listen import players
from resmix.report import Claim, claims_html, glue_all, optimizer_steps, require, setup_html, table_html

exp = get_profile()
cfg = exp.data
x_wave, y_wave = held_out(cfg)  # held-out clips of data seed cfg.seed, [B, N]
xf, yf = frame(x_wave, cfg.frame_size), frame(y_wave, cfg.frame_size)  # [B, D, T]
PROTOCOL_RUNS = "_output/results/protocol"  # chapter 4's pre-registered runs, the baseline among them
# The variance hinge was registered as a comparator (it is not part of the C8 rule); it runs in the
# exploratory sweep below instead, to keep this chapter within its time budget on a 2-core CPU.
remedies = {k: v for k, v in protocol.remedy_configs(exp).items() if k != "variance 0.1"}
base = remedies["none"]
glue_all({"n_seeds": len(protocol.SEEDS), "n_data_seeds": len(protocol.DATA_SEEDS), "steps": optimizer_steps(base),
          "min_share_pct": 100 * VERDICT_RULES.min_share, "margin_db": STATS.level_margin_db})
setup_html(base)

# %% [markdown]
# ## First, test the score
#
# A score is an instrument, and an instrument is tested on inputs whose answer is known before it
# is trusted. The first book scored a run by four tests: level within 6 dB of the target;
# |correlation| with both target and input below 0.1; log-spectral distance to the target below
# white noise's; spectral flatness below white noise's. Run known controls through it: silence, a
# copy of the target, a copy shifted by 12 samples (1.5 ms), a copy of the input, half input plus half
# target (the leaky residual alone), one fixed waveform whatever the inputs, white noise at the
# target's level, and a phase-randomised target (the target's magnitude spectrum
# with random phases: a fair "meaningful but not copied" output, which should pass). Each control is
# a model `model(input, target)`, so it goes through the same code as a trained one:

# %%
noise = torch.randn(y_wave.shape, generator=torch.Generator().manual_seed(0)) * metrics.rms(y_wave)[:, None]
LSD_NOISE = float(metrics.log_spectral_distance(noise, y_wave).mean())
FLAT_NOISE = float(metrics.spectral_flatness(noise).mean())


def first_book_score(model):
    """The first book's four tests on one model's held-out output (fractions of clips passing, averaged)."""
    out = unframe(final_output(model(xf, yf)))
    tests = {"level": (metrics.rms_ratio_db(out, y_wave).abs() <= 6).float(),
             "corr": ((metrics.pearson(out, y_wave, 1e-12).abs() < 0.1)
                      & (metrics.pearson(out, x_wave, 1e-12).abs() < 0.1)).float(),
             "lsd": (metrics.log_spectral_distance(out, y_wave) < LSD_NOISE).float(),
             "flatness": (metrics.spectral_flatness(out) < FLAT_NOISE).float()}
    return {k: float(v.mean()) for k, v in tests.items()} | {"score": float(sum(tests.values()).mean() / 4)}


controls = {name: make(cfg.sample_rate) for name, (make, _) in score.CONTROLS.items()}
with torch.no_grad():
    old_on_controls = pd.DataFrame({name: first_book_score(m) for name, m in controls.items()}).T
old_on_controls.round(2)

# %% tags=["remove-cell"]
fooled = [n for n, (_, meant) in score.CONTROLS.items() if meant in ("no_copy", "input_dependence")
          and old_on_controls.loc[n, "score"] >= 0.75]  # copies and input-independent outputs it rates highly
glue_all({"old_fooled": ", ".join(fooled) or "none", "old_n_fooled": len(fooled)})

# %% [markdown]
# The first book's score gives at least three of its four points to: {glue:text}`old_fooled`. It
# cannot see a copy at a lag, and none of its tests asks whether the output depends on its inputs.
# `resmix.score.remedy_score` replaces it with four tests whose thresholds live, with
# their reasons, in `resmix.criteria` and were fixed on these controls before any trained run was
# scored: **level** within {glue:text}`band_db:g` dB of the target; **input dependence** (swapping
# clips' inputs or targets changes the output by at least {glue:text}`swap_floor:g` of its norm, and
# at most {glue:text}`common_ceiling:g` of its power is one waveform shared by all clips); **no copy**
# (the best |correlation| within ±{glue:text}`lag_ms:g` ms with the clip's own target or input
# exceeds the same search against other clips' by at most {glue:text}`lag_limit:g`); and a
# **spectral** match (the log-spectral distance to the own target beats that to other clips'
# targets by at least {glue:text}`spectral_margin:g` dB). The sanity table, each control against
# the test meant to catch it:

# %%
glue_all({"band_db": REMEDY.level_band_db, "swap_floor": REMEDY.swap_floor, "common_ceiling": REMEDY.common_share_ceiling,
          "lag_ms": 1000 * REMEDY.lag_window_seconds, "lag_limit": REMEDY.lag_excess_limit,
          "spectral_margin": REMEDY.spectral_margin_db})
sanity = score.sanity_table(xf, yf, cfg.sample_rate)
pd.DataFrame([r.as_dict() for r in sanity]).set_index("control")

# %% tags=["remove-cell"]
assert score.sanity_problems(sanity) == [], score.sanity_problems(sanity)

# %% [markdown]
# Every control fails the test meant to catch it, and the phase-randomised target passes all four.
#
# ## The pre-registered remedies
#
# The baseline is chapter 4's *matched ε, quiet start* configuration (the setup table above).
# Three remedies are added to it, each alone: a waveform MSE to the target and a multi-resolution
# STFT loss, both at the seed's weight 0.01 (the variance hinge, registered as a comparator, runs in
# the exploratory sweep below instead, for time). Each is run with the
# baseline's {glue:text}`n_seeds` model seeds on {glue:text}`n_data_seeds` data seeds,
# {glue:text}`steps` optimizer steps, and each run's final model is scored on its own data seed's
# held-out clips. The rule, fixed in `resmix.protocol` before the runs: a remedy **passes** when at
# least {glue:text}`min_share_pct:.0f`% of its runs pass all four tests; it **lifts** the level when
# the baseline ends below the target in that share of its runs and the remedy's paired final level is
# above the baseline's by more than {glue:text}`margin_db:g` dB (95% bootstrap interval of the paired
# difference). C8 is *supported* if a reconstruction loss at 0.01 passes, *partly* if none passes but
# one lifts the level, *refuted* otherwise.

# %%
c8_exps = {name: protocol.replicate(e) for name, e in remedies.items()}
c8_runs = study.run_groups(c8_exps, PROTOCOL_RUNS, workers=os.cpu_count(), progress=False)
c8_flat = [h for hs in c8_runs.values() for h in hs]
scores = {name: protocol.score_runs(hs, PROTOCOL_RUNS) for name, hs in c8_runs.items()}
c8 = protocol.c8_verdict(c8_runs, {name: [s.passed for s in ss] for name, ss in scores.items()})
print(f"{len(c8_flat)} runs on {c8_flat[0].meta['device']}; C8 by the registered rule: {c8.verdict} ({c8.reason})")
table_html(protocol.c8_rows(c8), index="remedy", digits=2)

# %% [markdown]
# Each test separately (the share of runs passing it), with the mean of what it measures:

# %%
per_test = pd.DataFrame([{"remedy": name, **{t: float(np.mean([s.tests()[t].passed for s in ss]))
                                             for t in ss[0].tests()},
                          "all four": float(np.mean([s.passed for s in ss])),
                          "swap input": float(np.mean([h.last["val_swap_input"] for h in c8_runs[name]])),
                          "common share": float(np.mean([h.last["val_common_share"] for h in c8_runs[name]])),
                          "lag corr excess (target)": float(np.mean([h.last["val_lag_corr_target"] - h.last["val_lag_corr_chance"]
                                                                     for h in c8_runs[name]])),
                          "LSD": float(np.mean([h.last["val_lsd"] for h in c8_runs[name]]))}
                         for name, ss in scores.items()]).set_index("remedy")
per_test.round(2)

# %% mystnb={"image": {"alt": "Output level relative to the target and common share over optimizer steps for the baseline and each remedy, mean of ten runs with min-max band"}}
fig = plots.curves(c8_runs, ["val_rms_ratio_db", "val_common_share"],
                   ["output level relative to target (dB)", "common share (input-independent power)"])
fig.axes[0].axhline(0, color="k", lw=0.8)
fig

# %% tags=["remove-cell"]
R = c8.remedies
glue_all({f"{k}_{f}": v for key, k in (("mse 0.01", "mse"), ("mrstft 0.01", "mr"), ("none", "none"))
          for f, v in (("end", R[key].level_end_db), ("pass", R[key].score_passed),
                       ("diff", R[key].vs_none.mean if R[key].vs_none else 0.0),
                       ("lo", R[key].vs_none.low if R[key].vs_none else 0.0),
                       ("hi", R[key].vs_none.high if R[key].vs_none else 0.0))}
         | {"n_runs": R["none"].n, "c8_reason": c8.reason, "dep_max": per_test["input_dependence"].max(),
            "common_min": per_test["common share"].min(),
            "spectral_sentence": "no run passes the spectral test either" if per_test["spectral"].max() == 0 else
            "the spectral test passes in at most a share of " + f"{per_test['spectral'].max():.1f} of the runs of any remedy",
            "mr_ep1": float(np.mean([h.records[0]["val_rms_ratio_db"] for h in c8_runs["mrstft 0.01"]])),
            "n_passing_total": sum(r.score_passed for r in R.values())})
assert c8.verdict == "partly" and c8.baseline_quiet, "the text reads C8 as partly, from a quiet baseline"
assert R["mse 0.01"].vs_none.verdict(STATS.level_margin_db) == "within", "the text says MSE at 0.01 changes the level by < 1 dB"
assert R["mrstft 0.01"].vs_none.verdict(STATS.level_margin_db) == "above" and R["mrstft 0.01"].level_end_db < -REMEDY.level_band_db, \
    "the text says MR-STFT lifts the level but not into the band"
assert sum(r.score_passed for r in R.values()) == 0 and per_test["input_dependence"].max() == 0, \
    "the text says no run passes, and none passes input dependence"

# %% [markdown]
# **A waveform MSE at 0.01, the simplest reading of the seed's remedy (the seed names no kind), does
# not move the level.** Its outputs end at {glue:text}`mse_end:+.1f` dB, a mean of
# {glue:text}`mse_diff:+.2f` dB from the baseline's {glue:text}`none_end:+.1f` dB (95% CI
# {glue:text}`mse_lo:+.2f` to {glue:text}`mse_hi:+.2f`: within ±1 dB, no difference by the registered
# margin). **The MR-STFT loss at 0.01 stops the fall**: its output stays near where the frozen gain
# starts it ({glue:text}`mr_ep1:+.1f` dB after the first epoch, {glue:text}`mr_end:+.1f` dB at the
# end), {glue:text}`mr_diff:+.1f` dB above the baseline (95% CI {glue:text}`mr_lo:+.1f` to
# {glue:text}`mr_hi:+.1f`), far below the target. **No run passes the score**
# ({glue:text}`n_passing_total` of all runs): every one fails the input-dependence test (common share
# at least {glue:text}`common_min:.2f`; below 0.5 passes), and {glue:text}`spectral_sentence`. None
# copies its target or input.

# %% [markdown]
# ## Weight and scale: what "small" means
#
# A loss weight is only small relative to the other terms, and a waveform MSE scales with the
# signal's power: at the target's RMS of {glue:text}`rms:g` the MSE of a silent output is
# $\operatorname{Var} t$ = {glue:text}`var_t:.3g`, and so is that of any output uncorrelated with the
# target, plus the output's own power. Each term's value at the end of the pre-registered runs,
# unweighted (every run computes them all), and the reconstruction term as weighted in the loss
# (means over runs):

# %%
TERMS = ["anti_correlation", "novelty", "reconstruction", "variance"]
terms = pd.DataFrame([{"remedy": name, **{t: float(np.mean([h.last[f"train_{t}"] for h in hs])) for t in TERMS},
                       "weight x reconstruction": hs[0].experiment.loss.reconstruction
                       * float(np.mean([h.last["train_reconstruction"] for h in hs]))}
                      for name, hs in c8_runs.items()]).set_index("remedy")
glue_all({"rms": cfg.rms, "var_t": cfg.rms ** 2, "mse_max": 0.01 * 2 * cfg.rms ** 2,
          "pen_ac": terms.loc["none", "anti_correlation"], "pen_nov": terms.loc["none", "novelty"],
          "mse_weighted": terms.loc["mse 0.01", "weight x reconstruction"],
          "mr_weighted": terms.loc["mrstft 0.01", "weight x reconstruction"],
          "weighted_ratio": terms.loc["mrstft 0.01", "weight x reconstruction"] / terms.loc["mse 0.01", "weight x reconstruction"]})
terms.style.format("{:.2e}")

# %% [markdown]
# Weighted, the MSE at 0.01 is {glue:text}`mse_weighted:.1e`, of the order of the penalties once they are
# met ({glue:text}`pen_ac:.1e` and {glue:text}`pen_nov:.1e`): it is not drowned out. It does nothing
# because the baseline's output already sits at its floor: uncorrelated with the target, the only
# way left to lower an MSE is to lower the output's power, which the collapse is already doing. "The
# same weight" is not the same strength across kinds: the MR-STFT term at 0.01 weighs
# {glue:text}`mr_weighted:.1e`, {glue:text}`weighted_ratio:.0f` times the MSE's.

# %% [markdown]
# Larger weights, with model seed 0 on data seed {glue:text}`data_seed` (exploratory: a
# descriptive sweep, not part of the pre-registered test):

# %%
SWEEP_SEEDS = [0]
sweep_exps = (study.grid(base.with_(name="ch5-sweep", loss={"recon_kind": "mse"}), {"loss.reconstruction": [0.1, 1.0]}, SWEEP_SEEDS)
              + study.grid(base.with_(name="ch5-sweep", loss={"recon_kind": "mrstft"}), {"loss.reconstruction": [0.1, 1.0]}, SWEEP_SEEDS)
              + study.grid(base.with_(name="ch5-sweep"), {"loss.variance": [0.1, 1.0]}, SWEEP_SEEDS))
sweep_runs = study.run_grid(sweep_exps, "_output/results/ch5", workers=os.cpu_count(), progress=False)
base_runs = [h for h in c8_runs["none"] if study.setting(h, "data.seed") == cfg.seed and study.setting(h, "train.seed") in SWEEP_SEEDS]
rows = []
sweep_scores = protocol.score_runs(sweep_runs, "_output/results/ch5")
for h, sc in zip(base_runs + sweep_runs, [None] * len(base_runs) + sweep_scores):
    lo = h.experiment.loss
    kind = "variance hinge" if lo.variance else (lo.recon_kind if lo.reconstruction else "none")
    rows.append({"remedy": kind, "weight": lo.variance or lo.reconstruction, "seed": h.experiment.train.seed,
                 **{k: h.last[f"val_{k}"] for k in ("rms_ratio_db", "corr_target", "common_share", "swap_input",
                                                    "swap_target", "lsd")},
                 "failed tests": "(baseline)" if sc is None else (", ".join(sc.failed) or "none: passes")})
sweep_table = pd.DataFrame(rows).drop(columns="seed").set_index(["remedy", "weight"])
glue("data_seed", cfg.seed, display=False)
sweep_table.round(3)

# %% tags=["remove-cell"]
st = sweep_table["rms_ratio_db"]
glue_all({"sw_none": st[("none", 0.0)], "sw_mse1": st[("mse", 1.0)], "sw_mse01": st[("mse", 0.1)],
          "sw_mr01": st[("mrstft", 0.1)], "sw_mr1": st[("mrstft", 1.0)],
          "sw_var01": st[("variance hinge", 0.1)], "sw_var1": st[("variance hinge", 1.0)],
          "sw_var_failed": "; ".join(f"weight {w:g}: {f}" for w, f in sweep_table.loc["variance hinge", "failed tests"].items()),
          "sw_mr_common": sweep_table.loc["mrstft", "common_share"].max(),
          "sw_mr_swap_t": sweep_table.loc["mrstft", "swap_target"].min(),
          "sw_mr_swap_i": sweep_table.loc["mrstft", "swap_input"].max(),
          "sw_mr_failed": "; ".join(f"weight {w:g}: {f}" for w, f in sweep_table.loc["mrstft", "failed tests"].items())})
assert sweep_table.loc["mrstft", "common_share"].max() < REMEDY.common_share_ceiling, \
    "the text says MR-STFT at 0.1 and 1 has a low common share"
assert all("no_copy" in f and "input_dependence" not in f for f in sweep_table.loc["mrstft", "failed tests"]), \
    "the text says MR-STFT at 0.1 and 1 passes input dependence by hiding a copy"

# %% [markdown]
# In this one seed (exploratory) a waveform MSE at weight 1 ends at {glue:text}`sw_mse1:+.1f` dB,
# against {glue:text}`sw_none:+.1f` dB without it and {glue:text}`sw_mse01:+.1f` dB at 0.1: only at a
# large weight does the MSE deepen the quiet, as a loss that scores silence above any uncorrelated
# signal should. The MR-STFT loss at 0.1 and 1 does more than hold the level
# ({glue:text}`sw_mr01:+.1f` and {glue:text}`sw_mr1:+.1f` dB): its common share falls to at most
# {glue:text}`sw_mr_common:.2f`, the lowest of any penalised run in chapters 4 and 5, and swapping a
# clip's target moves its output by at least {glue:text}`sw_mr_swap_t:.2f` of its norm (its input by at
# most {glue:text}`sw_mr_swap_i:.2f`): it passes the input-dependence test by following its target.
# But its failed tests are {glue:text}`sw_mr_failed`: it follows the target by hiding a copy of it
# within ±10 ms, the phase-blind loss's way found in {ref}`chapter 2 <ch-algebra>`. The variance hinge
# at 0.1 and 1 holds the level ({glue:text}`sw_var01:+.1f` and {glue:text}`sw_var1:+.1f` dB), which is
# all it asks for; its failed tests: {glue:text}`sw_var_failed`.

# %% [markdown]
# Listen to the baseline and each pre-registered remedy (model seed 0, data seed {glue:text}`data_seed`):

# %%
listen = {"input": x_wave[0], "target": y_wave[0]}
for name, es in c8_exps.items():
    e = next(e for e in es if e.train.seed == 0 and e.data.seed == cfg.seed)
    with torch.no_grad():
        listen[name] = unframe(study.load_model(e, PROTOCOL_RUNS)(xf[:1], yf[:1])[1])[0]
players(listen, cfg.sample_rate, "_output/05_remedy")

# %% mystnb={"image": {"alt": "Spectrograms of the target and of the output of the baseline and each remedy"}}
plots.spectrograms({k: v for k, v in listen.items() if k != "input"}, cfg.sample_rate)

# %% [markdown]
# ## What we measured

# %%
def described(name):
    r = c8.remedies[name]
    diff = "" if r.vs_none is None else (f", {r.vs_none.mean:+.1f} dB vs none "
                                         f"[{r.vs_none.low:+.1f}, {r.vs_none.high:+.1f}]")
    return f"{name}: {r.score_passed}/{r.n} pass the score, ends {r.level_end_db:+.1f} dB{diff}"


claims = [Claim("C8", "a small reconstruction loss (0.01) is the remedy", "weight 0.01",
                "; ".join(described(n) for n in c8.remedies), c8.verdict)]
require(claims, {"C8": "partly"})  # the text and the introduction read C8 as partly
glue("c8_verdict", c8.verdict, display=False)
glue("claims", claims_html(claims), display=False)
claims_html(claims)

# %% [markdown]
# **Verdict on C8: {glue:text}`c8_verdict`**, by the rule fixed before the runs
# ({glue:text}`c8_reason`). The seed's remedy in its simplest reading, a waveform MSE at 0.01, leaves
# the collapsed output's level within a decibel of the baseline's. The phase-blind MR-STFT loss at the
# same nominal weight (a far larger term) stops the fall but leaves the output far below the target,
# and no remedy makes the output meaningful in the score's sense: each output is still mostly one
# waveform shared by every clip. "Partly" rests on the MR-STFT loss, the kind of reconstruction this
# book chose to try, not on anything the seed specified.
#
# **Recommendation.** If your output goes quiet under correlation penalties, first remove the cause
# ({ref}`chapter 4 <ch-collapse>`: an $\varepsilon$ comparable to the signals' scale, a fixed attenuation,
# or weight decay on LayerNorm's parameters) rather than add a term against the symptom. If you add
# one, know what it will buy: at a weight where it dominates, a phase-blind spectral loss makes the
# output follow its target, but as a lagged copy (exploratory, one seed); a waveform MSE is the
# wrong tool when correlation is penalised. Whatever you add, measure input dependence and lagged copies, not level
# alone ({ref}`chapter 6 <ch-diagnose>`), and rerun this chapter's protocol on your setting.
