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
# satisfied by a signal with the target's spectrum and none of its waveform. This chapter first
# tests the instrument that judges them, in two versions, then adds each remedy to a quiet
# configuration: the first registration's (a frozen quiet start, kept and labelled) and the
# second's (strong weight decay from PyTorch's start, no inserted gain), with a trained positive
# control that the score should accept.

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

# %% tags=["hide-input"]
import dataclasses
import os

import numpy as np
import pandas as pd
import torch
from myst_nb import glue

from resmix import metrics, plans, plots, protocol, protocol2, readings, score, study
from resmix.config import get_profile
from resmix.criteria import REMEDY, REMEDY_V2, STATS, VERDICT_RULES
from resmix.data import frame, held_out, unframe
from resmix.listen import players
from resmix.measure import final_output
from resmix.report import Checks, Claim, announce, claims_html, glue_all, optimizer_steps, setup_html

exp = get_profile()
cfg = exp.data
checks = Checks(exp.profile)
RUNS = "_output/results/protocol"  # chapter 4's runs, the baselines among them
plan = plans.chapter5(exp)
print(announce(exp, plans.everything(plan)))
x_wave, y_wave = held_out(cfg)  # held-out clips of data seed cfg.seed, [B, N]
xf, yf = frame(x_wave, cfg.frame_size), frame(y_wave, cfg.frame_size)  # [B, D, T]

# %% [markdown]
# ## First, test the score
#
# A score is an instrument, and an instrument is tested on inputs whose answer is known before it
# is trusted. The first book scored a run by four tests: level within 6 dB of the target;
# |correlation| with both target and input below 0.1; log-spectral distance to the target below
# white noise's; spectral flatness below white noise's. Run known controls through it: silence, a
# copy of the target, a copy shifted by 12 samples (1.5 ms), a copy of the input, half input plus
# half target (the leaky residual alone), one fixed waveform whatever the inputs, white noise at the
# target's level, and a phase-randomised target (the target's magnitude spectrum with random phases:
# "meaningful but not copied", which should pass). Each control is a model `model(input, target)`:

# %%
noise = torch.randn(y_wave.shape, generator=torch.Generator().manual_seed(0)) * metrics.rms(y_wave)[:, None]
LSD_NOISE, FLAT_NOISE = float(metrics.log_spectral_distance(noise, y_wave).mean()), float(metrics.spectral_flatness(noise).mean())


def first_book_score(model):
    """The first book's four tests on one model's held-out output (fractions of clips passing, averaged)."""
    out = unframe(final_output(model(xf, yf)))
    tests = {"level": (metrics.rms_ratio_db(out, y_wave).abs() <= 6).float(),
             "corr": ((metrics.pearson(out, y_wave, 1e-12).abs() < 0.1) & (metrics.pearson(out, x_wave, 1e-12).abs() < 0.1)).float(),
             "lsd": (metrics.log_spectral_distance(out, y_wave) < LSD_NOISE).float(),
             "flatness": (metrics.spectral_flatness(out) < FLAT_NOISE).float()}
    return {k: float(v.mean()) for k, v in tests.items()} | {"score": float(sum(tests.values()).mean() / 4)}


controls = {name: make(cfg.sample_rate) for name, (make, _) in score.CONTROLS.items()}
with torch.no_grad():
    old_on_controls = pd.DataFrame({name: first_book_score(m) for name, m in controls.items()}).T
old_on_controls.round(2)

# %% tags=["remove-cell"]
fooled = [n for n, (_, meant) in score.CONTROLS.items() if meant in ("no_copy", "input_dependence")
          and old_on_controls.loc[n, "score"] >= 0.75]
glue_all({"old_fooled": ", ".join(fooled) or "none", "band_db": REMEDY.level_band_db, "swap_floor": REMEDY.swap_floor,
          "common_ceiling": REMEDY.common_share_ceiling, "lag_ms": 1000 * REMEDY.lag_window_seconds,
          "lag_limit": REMEDY.lag_excess_limit, "spectral_margin": REMEDY.spectral_margin_db, "n_bands": REMEDY_V2.n_bands,
          "n_surrogates": REMEDY_V2.n_surrogates})

# %% [markdown]
# The first book's score gives at least three of its four points to: {glue:text}`old_fooled`. It
# cannot see a copy at a lag, and none of its tests asks whether the output depends on its inputs.
# `resmix.score.remedy_score` replaces it with four tests whose thresholds live, with their reasons,
# in `resmix.criteria`: **level** within {glue:text}`band_db:g` dB of the target; **input dependence**
# (swapping clips' inputs or targets changes the output by at least {glue:text}`swap_floor:g` of its
# norm, and at most {glue:text}`common_ceiling:g` of its power is one waveform shared by all clips);
# **no copy** (the best |correlation| within ±{glue:text}`lag_ms:g` ms with the clip's own target or
# input exceeds its chance level by at most {glue:text}`lag_limit:g`); and a **spectral** match (the
# output is closer in spectrum to its own target than to other clips' targets by at least
# {glue:text}`spectral_margin:g` dB).
#
# It exists in two registered versions. **Version 1** (the first registration) compares 256-point
# spectra harmonic by harmonic (the log-spectral distance) and takes the no-copy test's chance level
# from other clips. **Version 2** (the second registration, fixed from the controls below before any
# run of this chapter was scored with it) compares the long-term envelope in {glue:text}`n_bands`
# log-spaced bands, the resolution at which a phase-blind loss shapes an output, and takes the chance
# level from {glue:text}`n_surrogates` phase-randomised surrogates of the clip's *own* target and input
# (signals with exactly its spectrum and no waveform in common). Each control against the test meant
# to catch it, on both data seeds:

# %%
sanity = {}
for version, crit in (("version 1", REMEDY), ("version 2", REMEDY_V2)):
    for data_seed in protocol.DATA_SEEDS:
        d = dataclasses.replace(cfg, seed=data_seed)
        x, y = (frame(w, d.frame_size) for w in held_out(d))
        sanity[version, data_seed] = score.sanity_table(x, y, d.sample_rate, crit)
pd.DataFrame({(v, f"data seed {s}"): {r.control: ("as expected" if r.as_expected else "NOT: " + ", ".join(r.score.failed))
                                      for r in rows} for (v, s), rows in sanity.items()})

# %% tags=["remove-cell"]
problems = {k: score.sanity_problems(rows) for k, rows in sanity.items()}
v1_problems = sorted({p for (v, _), ps in problems.items() if v == "version 1" for p in ps})
glue_all({"v1_problems": "; ".join(v1_problems) or "none"})
checks.expect(all(not ps for (v, _), ps in problems.items() if v == "version 2"), "the text says version 2 passes every control")
checks.expect(not problems["version 1", cfg.seed], "the text says version 1 passes its controls on the book's data seed")

# %% [markdown]
# Version 2 behaves as meant on both data seeds. Version 1 does on the book's data seed, but not on
# the other one: {glue:text}`v1_problems`. Its positive control passed the no-copy test only narrowly
# before; against other clips' targets, a signal with the clip's *own* spectrum sits above chance.

# %% [markdown]
# ## The first registration's remedies (kept, labelled)
#
# The first registration added each remedy to the frozen quiet start of chapter 4 (ten seed pairs):
# a waveform MSE and a multi-resolution STFT loss at the seed's weight 0.01. Chapter 4 showed that
# start to be an ε in disguise; the runs are kept because their rule was fixed before them. Each run
# is scored with both versions.

# %%
runs = study.run_groups(plan, RUNS, workers=os.cpu_count(), progress=False)
first_names = ["none", *protocol.RECONSTRUCTION_REMEDIES]
v1_runs = {n: runs[f"v1 {n}"] for n in first_names}
scores1 = {v: {n: protocol.score_runs(hs, RUNS, crit) for n, hs in v1_runs.items()} for v, crit in (("v1", REMEDY), ("v2", REMEDY_V2))}
c8_first = {v: protocol.c8_verdict(v1_runs, {n: [s.passed for s in ss] for n, ss in sc.items()}) for v, sc in scores1.items()}
print(f"C8, first registration: {c8_first['v1'].verdict} with score version 1, {c8_first['v2'].verdict} with version 2")
pd.DataFrame(protocol.c8_rows(c8_first["v1"])).set_index("remedy").round(2)

# %% [markdown]
# ## The second registration: remedies for an honest quiet
#
# The second registration (`resmix.protocol2`, fixed before these runs) adds the remedies to the
# **decay road** of chapter 4: the seed's setting with weight decay 3 on every parameter, from
# PyTorch's start. It is the stronger road to a quiet output and needs no setting the seed does not
# document. Beside the two readings of the seed's remedy, a **trained positive control**: the
# MR-STFT loss at weight 1 (the target's spectrum) with the penalties taken over lags up to the
# score's 10 ms window (`LossConfig.corr_lag_seconds`), so that a lagged copy is penalised as well.
# Its objective asks for what the score accepts. The rule is the first registration's: a remedy
# **passes** when at least {glue:text}`min_share_pct:.0f`% of its runs pass all four tests; it **lifts**
# the level when the baseline ends below the target in that share of its runs and the remedy's paired
# final level is above the baseline's by more than {glue:text}`margin_db:g` dB. C8 is *supported* if a
# reconstruction loss at 0.01 passes, *partly* if none passes but one lifts the level, *refuted*
# otherwise; read with version 2 of the score.

# %%
second_names = list(protocol2.remedy_configs(exp))
v2_runs = {n: runs[f"v2 {n}"] for n in second_names}
scores2 = {v: {n: protocol.score_runs(hs, RUNS, crit) for n, hs in v2_runs.items()} for v, crit in (("v1", REMEDY), ("v2", REMEDY_V2))}
rule_runs = {n: v2_runs[n] for n in ["none", *protocol.RECONSTRUCTION_REMEDIES]}
c8 = protocol.c8_verdict(rule_runs, {n: [s.passed for s in scores2["v2"][n]] for n in rule_runs})
c8_v1score = protocol.c8_verdict(rule_runs, {n: [s.passed for s in scores2["v1"][n]] for n in rule_runs})
print(f"C8, second registration: {c8.verdict} ({c8.reason}); with score version 1: {c8_v1score.verdict}")
pd.DataFrame(protocol.c8_rows(c8)).set_index("remedy").round(2)

# %% [markdown]
# Each test separately (the share of runs passing it), for both versions, with the positive control:

# %%
def pass_rates(scores):
    return pd.DataFrame({n: {t: float(np.mean([s.tests()[t].passed for s in ss])) for t in ss[0].tests()}
                         | {"all four": float(np.mean([s.passed for s in ss]))} for n, ss in scores.items()}).T


pd.concat({f"score {v}": pass_rates(sc) for v, sc in scores2.items()}, axis=1).round(2)

# %%
readings.level_table(v2_runs)

# %% mystnb={"image": {"alt": "Output level relative to the target and common share over optimizer steps for the decay-road baseline, each remedy and the positive control, mean of ten runs with min-max band"}}
fig = plots.curves(v2_runs, ["val_rms_ratio_db", "val_common_share"],
                   ["output level re target (dB)", "common share (input-independent power)"])
fig.axes[0].axhline(0, color="k", lw=0.8)
fig

# %% tags=["remove-cell"]
R = c8.remedies
pos = scores2["v2"][protocol2.POSITIVE]
pos_rate = float(np.mean([s.passed for s in pos]))
rates = {v: pass_rates(sc) for v, sc in scores2.items()}
glue_all({"min_share_pct": 100 * VERDICT_RULES.min_share, "margin_db": STATS.level_margin_db,
          "c8_verdict": c8.verdict, "c8_reason": c8.reason, "c8_v1score": c8_v1score.verdict,
          "c8_first_v1": c8_first["v1"].verdict, "c8_first_v2": c8_first["v2"].verdict,
          "none_end": R["none"].level_end_db, "base_quiet": "ends below the target" if c8.baseline_quiet else "does not end below the target",
          "mse_end": R["mse 0.01"].level_end_db, "mse_diff": R["mse 0.01"].vs_none.mean,
          "mse_lo": R["mse 0.01"].vs_none.low, "mse_hi": R["mse 0.01"].vs_none.high,
          "mr_end": R["mrstft 0.01"].level_end_db, "mr_diff": R["mrstft 0.01"].vs_none.mean,
          "mr_lo": R["mrstft 0.01"].vs_none.low, "mr_hi": R["mrstft 0.01"].vs_none.high,
          "pos_pass": sum(s.passed for s in pos), "pos_n": len(pos), "pos_rate_v1": float(rates["v1"].loc[protocol2.POSITIVE, "all four"]),
          "pos_failed": ", ".join(sorted({t for s in pos for t in s.failed})) or "none",
          "dep_max": float(rates["v2"].loc[["none", *protocol.RECONSTRUCTION_REMEDIES], "input_dependence"].max()),
          "n_runs": R["none"].n})
checks.expect(pos_rate >= VERDICT_RULES.min_share, "the text says the positive control passes version 2")

# %% [markdown]
# **The positive control passes.** {glue:text}`pos_pass` of {glue:text}`pos_n` of its runs pass all
# four tests of version 2 (a share of {glue:text}`pos_rate_v1:.1f` under version 1): an objective that
# asks for the target's spectrum, input dependence and no copy within the window is reachable by
# training, and version 2 accepts it. The score can therefore fail a remedy for a reason.
#
# **On the honest baseline**, which {glue:text}`base_quiet` ({glue:text}`none_end:+.1f` dB), the waveform
# MSE at 0.01 ends {glue:text}`mse_diff:+.2f` dB from it (95% CI {glue:text}`mse_lo:+.2f` to
# {glue:text}`mse_hi:+.2f`) and the MR-STFT loss at 0.01 {glue:text}`mr_diff:+.2f` dB (95% CI
# {glue:text}`mr_lo:+.2f` to {glue:text}`mr_hi:+.2f`). Neither passes the score: the share of their (and
# the baseline's) runs that pass input dependence is at most {glue:text}`dep_max:.1f`. By the rule,
# **C8 is {glue:text}`c8_verdict`** ({glue:text}`c8_reason`); read with version 1 of the score it would
# be {glue:text}`c8_v1score`, and the first registration's remedies give {glue:text}`c8_first_v1`
# (version 1) and {glue:text}`c8_first_v2` (version 2).

# %% [markdown]
# ## Weight and scale: what "small" means
#
# A loss weight is only small relative to the other terms. Each term's value at the end of the second
# registration's runs, unweighted (every run computes them all), and the reconstruction term as
# weighted in the loss (means over runs):

# %%
TERMS = ["anti_correlation", "novelty", "reconstruction", "variance"]
terms = pd.DataFrame([{"remedy": name, **{t: float(np.mean([h.last[f"train_{t}"] for h in hs])) for t in TERMS},
                       "weight x reconstruction": hs[0].experiment.loss.reconstruction
                       * float(np.mean([h.last["train_reconstruction"] for h in hs]))}
                      for name, hs in v2_runs.items()]).set_index("remedy")
terms.style.format("{:.2e}")

# %% tags=["remove-cell"]
glue_all({"pen_ac": terms.loc["none", "anti_correlation"], "pen_nov": terms.loc["none", "novelty"],
          "mse_weighted": terms.loc["mse 0.01", "weight x reconstruction"],
          "mr_weighted": terms.loc["mrstft 0.01", "weight x reconstruction"],
          "weighted_ratio": terms.loc["mrstft 0.01", "weight x reconstruction"] / terms.loc["mse 0.01", "weight x reconstruction"]})

# %% [markdown]
# Weighted, the MSE at 0.01 is {glue:text}`mse_weighted:.1e`, against penalties of {glue:text}`pen_ac:.1e`
# and {glue:text}`pen_nov:.1e`; the MR-STFT term at the same nominal weight is {glue:text}`mr_weighted:.1e`,
# {glue:text}`weighted_ratio:.0f` times the MSE's: "the same weight" is not the same strength across kinds.
#
# Larger weights on the first registration's baseline, model seed 0 (exploratory, descriptive):

# %%
sweep = runs["sweep"]
sweep_scores = protocol.score_runs(sweep, RUNS, REMEDY_V2)
rows = []
for h, sc in zip(sweep, sweep_scores):
    lo = h.experiment.loss
    rows.append({"remedy": "variance hinge" if lo.variance else lo.recon_kind, "weight": lo.variance or lo.reconstruction,
                 **{k: h.last[f"val_{k}"] for k in ("rms_ratio_db", "common_share", "swap_target", "lag_corr_target")},
                 "failed tests (version 2)": ", ".join(sc.failed) or "none: passes"})
pd.DataFrame(rows).set_index(["remedy", "weight"]).round(3)

# %% [markdown]
# Listen to the decay-road baseline, each remedy and the positive control (model seed 0, data seed
# {glue:text}`data_seed`):

# %%
listen = {"input": x_wave[0], "target": y_wave[0]}
for name, hs in v2_runs.items():
    h = next(h for h in hs if h.experiment.train.seed == 0 and h.experiment.data.seed == cfg.seed)
    with torch.no_grad():
        listen[name] = unframe(study.load_model(h.experiment, RUNS)(xf[:1], yf[:1])[1])[0]
players(listen, cfg.sample_rate, "_output/05_remedy")

# %% mystnb={"image": {"alt": "Spectrograms of the target and of the output of the baseline, each remedy and the positive control"}}
plots.spectrograms({k: v for k, v in listen.items() if k != "input"}, cfg.sample_rate)

# %% [markdown]
# ## What we measured

# %%
def described(name):
    r = c8.remedies[name]
    diff = "" if r.vs_none is None else f", {r.vs_none.mean:+.1f} dB vs none [{r.vs_none.low:+.1f}, {r.vs_none.high:+.1f}]"
    return f"{name}: {r.score_passed}/{r.n} pass score v2, ends {r.level_end_db:+.1f} dB{diff}"


claims = [Claim("C8", "a small reconstruction loss (0.01) is the remedy", "weight 0.01",
                "; ".join(described(n) for n in c8.remedies) + f"; positive control passes {sum(s.passed for s in pos)}/{len(pos)}",
                c8.verdict)]
checks.require(claims, {"C8": "refuted"})  # the text and the introduction read C8 from this rule
glue("claims", claims_html(claims), display=False)
glue("data_seed", cfg.seed, display=False)
claims_html(claims)

# %% [markdown]
# **Verdict on C8: {glue:text}`c8_verdict`**, by the registered rule read with version 2 of the score
# ({glue:text}`c8_reason`). A score that a trained positive control passes rejects both readings of the
# seed's remedy at 0.01 on a quiet configuration that needs no inserted gain.
#
# **Recommendation.** If your output goes quiet under correlation penalties, first remove the cause
# ({ref}`chapter 4 <ch-collapse>`: an ε comparable to your output's $s_o s_t$, a fixed attenuation, or
# weight decay on LayerNorm's parameters) rather than add a term against the symptom. If you want an
# output that depends on its inputs, follows the target's spectrum and copies nothing, ask for each
# of those in the objective, as the positive control does, and measure each of them
# ({ref}`chapter 6 <ch-diagnose>`), not the level alone.

# %% tags=["remove-input"]
checks.summary()
