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
# (ch-remedy)=
# # 5. The reconstruction-loss remedy
#
# The seed's remedy: "add small reconstruction loss (e.g., 0.01)" (C8). A reconstruction loss
# pulls the output *towards* the target while the penalties push its correlation *away*; what
# the pair settles on depends on the kind of reconstruction. A waveform MSE is phase-sensitive
# and, with correlation forbidden, prefers silence (for an output $o$ uncorrelated with the target $t$,
# $\mathbb{E}(o-t)^2 = \mathbb{E}o^2 + \mathbb{E}t^2$, least at $o = 0$). A
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
    source = os.environ.get("RESMIX_INSTALL_SOURCE", "git+https://github.com/resmix/resmix@v0.4.0")
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", f"resmix[book] @ {source}"])
    importlib.invalidate_caches()

# %% tags=["hide-input"]
import dataclasses
import os

import numpy as np
import pandas as pd
import torch
from myst_nb import glue

from resmix import study
from resmix.book import plots, readings, run_plans, tables
from resmix.book.claims import Checks, Claim, announce, claims_html, glue_all, optimizer_steps, setup_html
from resmix.book.listen import players
from resmix.config import get_profile
from resmix.criteria import REMEDY, REMEDY_V2, STATS, VERDICT_RULES
from resmix.data import frame, held_out, unframe
from resmix.measure import metrics, score
from resmix.measure.readout import final_output
from resmix.measure.stats import paired_difference, values_by_seeds
from resmix.registrations import first, second

exp = get_profile()
cfg = exp.data
checks = Checks(exp.profile)
RUNS = "_output/results/protocol"  # chapter 4's runs, the baselines among them
plan = run_plans.chapter5(exp)
print(announce(exp, run_plans.everything(plan)))
x_wave, y_wave = held_out(cfg)  # held-out clips of data seed cfg.seed, [B, N]
xf, yf = frame(x_wave, cfg.frame_size), frame(y_wave, cfg.frame_size)  # [B, D, T]

# %% [markdown]
# ```{admonition} Try it: which reconstruction term holds the level?
# :class: tip
# The cell gives an output the target's spectrum and none of its waveform (the phase-randomised target,
# uncorrelated with it, as the penalties want), lets a reconstruction term alone set its level for 100
# Adam steps, and prints where the level ends (two seconds). Set `recon` to `"mse"` or `"mrstft"` and
# rerun. The waveform MSE turns it down by 15 dB or more, and further the longer it runs (its best gain
# for an uncorrelated output is that correlation, near 0); the MR-STFT loss holds it within 5 dB of the
# target's level. A weight on either term only scales its gradient, which Adam's steps normalise away.
# ```

# %% tags=["try-it"]
from resmix.losses.reconstruction import mrstft_loss  # noqa: E402


def level_under(recon, steps=100):
    """The level (dB re target) a reconstruction term alone gives an output with the target's spectrum."""
    x8, y8 = x_wave[:8], y_wave[:8]  # [8, N]
    u = score.phase_randomised(y8 - y8.mean(-1, keepdim=True), 0)  # uncorrelated with the target
    log_gain = torch.zeros((), requires_grad=True)
    opt = torch.optim.Adam([log_gain], lr=0.1)
    for _ in range(steps):
        out, tgt = frame(log_gain.exp() * u, cfg.frame_size), frame(y8, cfg.frame_size)  # [8, D, T]
        loss = (out - tgt).pow(2).mean() if recon == "mse" else mrstft_loss(out, tgt, cfg.sample_rate)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(metrics.rms_ratio_db(log_gain.exp().detach() * u, y8).mean())


recon = "mse"  # or "mrstft"
print(f"{recon}: the level ends at {level_under(recon):+.1f} dB re the target")

# %% tags=["remove-cell"]
try_levels = {r: level_under(r) for r in ("mse", "mrstft")}
checks.expect(try_levels["mse"] < -15, "the Try-it box says the waveform MSE turns the output down by 15 dB or more")
checks.expect(abs(try_levels["mrstft"]) < 5, "the Try-it box says MR-STFT holds the level within 5 dB of the target's")

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
checks.expect("target shifted 12 samples" in fooled, "the text says the old score cannot see a copy at a lag")
glue_all({"old_fooled": ", ".join(fooled) or "none", "band_db": REMEDY.level_band_db, "swap_floor": REMEDY.swap_floor,
          "common_ceiling": REMEDY.common_share_ceiling, "lag_ms": 1000 * REMEDY.lag_window_seconds,
          "lag_limit": REMEDY.lag_excess_limit, "spectral_margin": REMEDY.spectral_margin_db, "n_bands": REMEDY_V2.n_bands,
          "n_surrogates": REMEDY_V2.n_surrogates})

# %% [markdown]
# The first book's score gives at least three of its four points to: {glue:text}`old_fooled`. It
# cannot see a copy at a lag, and none of its tests asks whether the output depends on its inputs.
# `resmix.measure.score.remedy_score` replaces it with four tests whose thresholds live, with their reasons,
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
    for data_seed in first.DATA_SEEDS:
        d = dataclasses.replace(cfg, seed=data_seed)
        x, y = (frame(w, d.frame_size) for w in held_out(d))
        sanity[version, data_seed] = score.sanity_table(x, y, d.sample_rate, crit)
pd.DataFrame({(v, f"data seed {s}"): {r.control: ("as expected" if r.as_expected else "NOT: " + ", ".join(r.score.failed))
                                      for r in rows} for (v, s), rows in sanity.items()})

# %% [markdown]
# Version 2 was written from these controls, so passing them shows it is consistent, not that it
# generalises. Added later (so exploratory, but with no choice left to make): the same controls on data
# seed {glue:text}`fresh_seed`, which no control or run of the book had used:

# %%
d = dataclasses.replace(cfg, seed=second.FRESH_DATA_SEED)
x, y = (frame(w, d.frame_size) for w in held_out(d))
fresh = score.sanity_table(x, y, d.sample_rate, REMEDY_V2)
pd.DataFrame({"version 2, fresh data seed": {r.control: "as expected" if r.as_expected else "NOT: " + ", ".join(r.score.failed)
                                             for r in fresh}})

# %% tags=["remove-cell"]
problems = {k: score.sanity_problems(rows) for k, rows in sanity.items()}
fresh_problems = score.sanity_problems(fresh)
glue_all({"fresh_seed": second.FRESH_DATA_SEED, "fresh_reading": "it behaves as meant there too" if not fresh_problems
          else "it does not: " + "; ".join(fresh_problems)})
v1_problems = sorted({p for (v, _), ps in problems.items() if v == "version 1" for p in ps})
glue_all({"v1_problems": "; ".join(v1_problems) or "none"})
checks.expect(all(not ps for (v, _), ps in problems.items() if v == "version 2"), "the text says version 2 passes every control")
checks.expect(not problems["version 1", cfg.seed], "the text says version 1 passes its controls on the book's data seed")
checks.expect(any(problems["version 1", d] for d in first.DATA_SEEDS if d != cfg.seed), "the text says version 1 fails a control on the other data seed")

# %% [markdown]
# Version 2 behaves as meant on both data seeds. Version 1 does on the book's data seed, but not on
# the other one: {glue:text}`v1_problems`. Against other clips' targets, a signal with the clip's *own*
# spectrum sits above chance. On the fresh data seed, version 2: {glue:text}`fresh_reading`.

# %% [markdown]
# ## The first registration's remedies (kept, labelled)
#
# The first registration added each remedy to the frozen quiet start of chapter 4 (ten seed pairs):
# a waveform MSE and a multi-resolution STFT loss at the seed's weight 0.01. Chapter 4 showed that
# start to be an ε in disguise; the runs are kept because their rule was fixed before them. Each run
# is scored with both versions.

# %%
runs = study.run_groups(plan, RUNS, workers=os.cpu_count(), progress=False)
first_names = ["none", *first.RECONSTRUCTION_REMEDIES]
v1_runs = {n: runs[f"v1 {n}"] for n in first_names}
scores1 = {v: {n: first.score_runs(hs, RUNS, crit) for n, hs in v1_runs.items()} for v, crit in (("v1", REMEDY), ("v2", REMEDY_V2))}
c8_first = {v: first.c8_verdict(v1_runs, {n: [s.passed for s in ss] for n, ss in sc.items()}) for v, sc in scores1.items()}
print(f"C8, first registration: {c8_first['v1'].verdict} with score version 1, {c8_first['v2'].verdict} with version 2")
tables.table_html(first.c8_rows(c8_first["v1"]), index="remedy", digits=2)

# %% [markdown]
# ## The second registration: remedies for an honest quiet
#
# The second registration (`resmix.registrations.second`, fixed before these runs) adds the remedies to the
# **decay road** of chapter 4: the seed's setting with weight decay 3 on every parameter, from
# PyTorch's start. It ends quieter than the ε road and needs no inserted gain (its weight decay of 3 is,
# like every optimizer setting here, not in the seed). Its quiet comes from the optimizer, not from the
# penalties' ε; the registration gave the ε road no remedies (a gap, filled below, exploratory). Beside the two readings of the seed's remedy, a **trained positive control**: the
# MR-STFT loss at weight 1 (the target's spectrum) with the penalties taken over lags up to the
# score's 10 ms window (`LossConfig.corr_lag_seconds`), so that a lagged copy is penalised as well.
# Its objective asks for what the score accepts. The rule is the first registration's: a remedy
# **passes** when at least {glue:text}`min_share_pct:.0f`% of its runs pass all four tests; it **lifts**
# the level when the baseline ends below the target in that share of its runs and the remedy's paired
# final level is above the baseline's by more than {glue:text}`margin_db:g` dB. C8 is *supported* if a
# reconstruction loss at 0.01 passes, *partly* if none passes but one lifts the level, *refuted*
# otherwise; read with version 2 of the score.
#
# The setup of a remedy run (the waveform MSE at 0.01 on the decay road), read from the configuration
# that trains it. The other runs of this section change only the reconstruction term (none, MR-STFT 0.01,
# MR-STFT 1), and the positive control also takes its penalties over lags:

# %%
setup_html(second.remedy_configs(exp)["mse 0.01"])

# %%
second_names = list(second.remedy_configs(exp))
v2_runs = {n: runs[f"v2 {n}"] for n in second_names}
scores2 = {v: {n: first.score_runs(hs, RUNS, crit) for n, hs in v2_runs.items()} for v, crit in (("v1", REMEDY), ("v2", REMEDY_V2))}
rule_runs = {n: v2_runs[n] for n in ["none", *first.RECONSTRUCTION_REMEDIES]}
c8 = first.c8_verdict(rule_runs, {n: [s.passed for s in scores2["v2"][n]] for n in rule_runs})
c8_v1score = first.c8_verdict(rule_runs, {n: [s.passed for s in scores2["v1"][n]] for n in rule_runs})
print(f"C8, second registration: {c8.verdict} ({c8.reason}); with score version 1: {c8_v1score.verdict}")
tables.table_html(first.c8_rows(c8), index="remedy", digits=2)

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
pos = scores2["v2"][second.POSITIVE]
rates = {v: pass_rates(sc) for v, sc in scores2.items()}
pos_runs = v2_runs[second.POSITIVE]
glue_all({"min_share_pct": 100 * VERDICT_RULES.min_share, "margin_db": STATS.level_margin_db, "steps": optimizer_steps(v2_runs["none"][0].experiment),
          "c8_verdict": c8.verdict, "c8_reason": c8.reason, "c8_v1score": c8_v1score.verdict,
          "c8_first_v1": c8_first["v1"].verdict, "c8_first_v2": c8_first["v2"].verdict,
          "first_mr_diff": c8_first["v2"].remedies["mrstft 0.01"].vs_none.mean,
          "none_end": R["none"].level_end_db,
          "mse_end": R["mse 0.01"].level_end_db, "mse_diff": R["mse 0.01"].vs_none.mean,
          "mse_lo": R["mse 0.01"].vs_none.low, "mse_hi": R["mse 0.01"].vs_none.high,
          "mse_verdict": R["mse 0.01"].vs_none.verdict(STATS.level_margin_db),
          "mr_end": R["mrstft 0.01"].level_end_db, "mr_diff": R["mrstft 0.01"].vs_none.mean,
          "mr_lo": R["mrstft 0.01"].vs_none.low, "mr_hi": R["mrstft 0.01"].vs_none.high,
          "pos_pass": sum(s.passed for s in pos), "pos_n": len(pos),
          "pos_level": float(np.mean([h.last["val_rms_ratio_db"] for h in pos_runs])),
          "pos_common": float(np.mean([h.last["val_common_share"] for h in pos_runs])),
          "pos_dep": rates["v2"].loc[second.POSITIVE, "input_dependence"], "pos_copy": rates["v2"].loc[second.POSITIVE, "no_copy"],
          "pos_level_pass": rates["v2"].loc[second.POSITIVE, "level"], "pos_spectral": rates["v2"].loc[second.POSITIVE, "spectral"],
          "pos_env_gain": float(np.mean([s.spectral.values["envelope_gain"] for s in pos])),
          "dep_max": float(rates["v2"].loc[["none", *first.RECONSTRUCTION_REMEDIES], "input_dependence"].max()),
          "n_runs": R["none"].n})
checks.expect(c8.verdict == "refuted" and c8_first["v2"].verdict == "partly", "the text reads the registrations' C8 as refuted and partly")
checks.expect(R["mrstft 0.01"].vs_none.verdict(STATS.level_margin_db) == "below", "the text says MR-STFT at 0.01 lowers the decay road's level")
checks.expect(R["mse 0.01"].vs_none.verdict(STATS.level_margin_db) != "above", "the text says the MSE at 0.01 does not lift the decay road's level")
checks.expect(sum(s.passed for s in pos) == 0 and rates["v2"].loc[second.POSITIVE, "input_dependence"] >= VERDICT_RULES.min_share
              and rates["v2"].loc[second.POSITIVE, "spectral"] == 0, "the text says the registered positive control depends on its inputs and fails the spectral test")

# %% [markdown]
# **On the honest baseline the seed's remedy does not help.** The decay road ends at
# {glue:text}`none_end:+.1f` dB; the waveform MSE at 0.01 ends {glue:text}`mse_diff:+.2f` dB from it (95% CI
# {glue:text}`mse_lo:+.2f` to {glue:text}`mse_hi:+.2f`: *{glue:text}`mse_verdict`* the {glue:text}`margin_db:g` dB
# margin, so not louder) and the MR-STFT loss at 0.01 {glue:text}`mr_diff:+.2f` dB (95% CI {glue:text}`mr_lo:+.2f`
# to {glue:text}`mr_hi:+.2f`: *quieter*), {glue:text}`n_runs` pairs each, where on the first registration's
# frozen start it lifted the level by {glue:text}`first_mr_diff:+.1f` dB. No run of either passes the score; none of them, nor the baseline's, passes input dependence (share
# at most {glue:text}`dep_max:.1f`). By the rule, **C8 is {glue:text}`c8_verdict`** ({glue:text}`c8_reason`);
# with version 1 of the score it is {glue:text}`c8_v1score` too, and the first registration's remedies give
# {glue:text}`c8_first_v1` (version 1) and {glue:text}`c8_first_v2` (version 2), on the lift alone.
#
# **The registered positive control fails**, and says why. It depends on its inputs (input dependence passes
# in a share {glue:text}`pos_dep:.1f` of its runs, common share {glue:text}`pos_common:.2f`) and copies nothing
# (no copy: {glue:text}`pos_copy:.1f`), but {glue:text}`pos_pass` of {glue:text}`pos_n` runs pass all four:
# it ends at {glue:text}`pos_level:+.1f` dB, at the edge of the level band (passing in
# {glue:text}`pos_level_pass:.1f`), and fails the spectral test in every run (envelope gain
# {glue:text}`pos_env_gain:.2f` dB). Our explanation, a hypothesis this book does not test: on tonal audio
# a signal with a harmonic's spectrum matches that harmonic at some lag within the {glue:text}`lag_ms:g` ms
# window (which spans a period of every note above 100 Hz), so a penalty on every lag pushes the output
# *away* from the target's spectrum. The score's no-copy test allows for this (version 2 takes its chance
# level from surrogates with the clip's own spectrum); the penalty does not.
#
# **What the rule's verdict can say.** The registration itself says that if its positive control cannot
# pass, the score is unpassable by training. It did not pass, so "no remedy passes the score" tells nothing
# about the remedies, and the verdict below rests on the *lift* alone: on the decay road neither reading of
# the remedy lifts the level.

# %% [markdown]
# ## The remedies on the ε road (exploratory)
#
# The registration gave the remedies the decay road only, whose quiet comes from the optimizer. The seed's
# account blames the penalties, whose road to quiet is the ε pull. Added after the registered runs, so
# exploratory: the same two remedies on chapter 4's ε road from PyTorch's start, {glue:text}`eps_n` seed
# pairs, each against the ε road's own runs. The registered lift rule needs a baseline quiet in 80% of its
# runs, which the ε road is not (half its runs end below the target), so the paired differences are read
# directly against the {glue:text}`margin_db:g` dB margin.

# %%
eps = {n: runs[f"ε road {n}"] for n in run_plans.eps_remedies(exp)}
eps_lift = {n: paired_difference(values_by_seeds(eps[n], "val_rms_ratio_db"), values_by_seeds(eps["none"], "val_rms_ratio_db"))
            for n in first.RECONSTRUCTION_REMEDIES}
pd.DataFrame({n: {"level at the end (dB)": np.mean([h.last["val_rms_ratio_db"] for h in hs]),
                  "vs the ε road (dB)": "-" if n == "none" else f"{eps_lift[n].mean:+.1f} [{eps_lift[n].low:+.1f}, {eps_lift[n].high:+.1f}]",
                  "passes score v2": f"{sum(sc.passed for sc in first.score_runs(hs, RUNS, REMEDY_V2))}/{len(hs)}"}
              for n, hs in eps.items()}).T

# %% tags=["remove-cell"]
eps_v = {n: d.verdict(STATS.level_margin_db) for n, d in eps_lift.items()}
glue_all({"eps_n": eps_lift["mse 0.01"].n, "eps_mse": eps_lift["mse 0.01"].mean, "eps_mse_v": eps_v["mse 0.01"],
          "eps_mr": eps_lift["mrstft 0.01"].mean, "eps_mr_lo": eps_lift["mrstft 0.01"].low, "eps_mr_hi": eps_lift["mrstft 0.01"].high,
          "eps_mr_v": eps_v["mrstft 0.01"], "eps_mse_lo": eps_lift["mse 0.01"].low, "eps_mse_hi": eps_lift["mse 0.01"].high,
          "eps_lifts": ", ".join(n for n, v in eps_v.items() if v == "above") or "neither"})
checks.expect(all(v != "above" for v in eps_v.values()), "the text says neither remedy lifts the ε road's level")

# %% [markdown]
# Against the ε road, the waveform MSE at 0.01 ends {glue:text}`eps_mse:+.1f` dB (95% CI {glue:text}`eps_mse_lo:+.1f`
# to {glue:text}`eps_mse_hi:+.1f`: *{glue:text}`eps_mse_v`* the margin) and the MR-STFT loss {glue:text}`eps_mr:+.1f` dB
# ({glue:text}`eps_mr_lo:+.1f` to {glue:text}`eps_mr_hi:+.1f`: *{glue:text}`eps_mr_v`*). Lifted beyond the margin:
# {glue:text}`eps_lifts`.

# %% [markdown]
# ## A second positive control (exploratory)
#
# Added after the registered control failed, and so exploratory: the seed's setting with a waveform MSE at
# weight {glue:text}`ap_weight:g` to the target passed through one fixed all-pass filter with random phases
# (`LossConfig.recon_reference="allpass"`): exactly the target's spectrum, none of its waveform at any small
# lag, a deterministic function of the target that a model can learn. Three model seeds:

# %%
ap_runs = runs["exploratory positive control"]
ap_scores = {v: first.score_runs(ap_runs, RUNS, crit) for v, crit in (("v1", REMEDY), ("v2", REMEDY_V2))}
pd.concat({f"score {v}": pass_rates({"all-pass MSE x 100": sc}) for v, sc in ap_scores.items()}, axis=1).round(2)

# %% tags=["remove-cell"]
ap_pass = sum(s.passed for s in ap_scores["v2"])
ap_rec = float(np.mean([h.last["val_loss_reconstruction"] for h in ap_runs]))
sweep_v2 = first.score_runs(runs["sweep"], RUNS, REMEDY_V2)
passed_by_some = {t: any(s.tests()[t].passed for s in [*sweep_v2, *pos, *ap_scores["v2"]]) for t in pos[0].tests()}
glue_all({"ap_weight": run_plans.ALLPASS_WEIGHT, "ap_pass": ap_pass, "ap_n": len(ap_runs),
          "ap_pass_v1": sum(s.passed for s in ap_scores["v1"]),
          "ap_level": float(np.mean([h.last["val_rms_ratio_db"] for h in ap_runs])),
          "ap_rec_share": ap_rec / cfg.rms ** 2,
          "ap_failed": ", ".join(sorted({t for s in ap_scores["v2"] for t in s.failed})) or "none"})
checks.expect(ap_pass == 0 and ap_rec > 0.8 * cfg.rms ** 2, "the text says the all-pass control is not learned and fails")
checks.expect(all(passed_by_some.values()), "the text says each test of version 2 is passed by some trained run")
mr_sweep = [sc for h, sc in zip(runs["sweep"], sweep_v2) if h.experiment.loss.recon_kind == "mrstft" and not h.experiment.loss.variance]
checks.expect(mr_sweep and all(list(sc.failed) == ["no_copy"] for sc in mr_sweep)
              and all(any(sc.tests()["no_copy"].passed for sc in ss) for ss in (pos, ap_scores["v2"])),
              "the text says the MR-STFT sweep runs fail only no-copy and both positive controls pass no-copy")

# %% [markdown]
# It fails as well: {glue:text}`ap_pass` of {glue:text}`ap_n` runs pass version 2 ({glue:text}`ap_pass_v1` pass
# version 1); they fail {glue:text}`ap_failed`. In {glue:text}`steps` steps the model does not learn the
# filter: its held-out MSE is still {glue:text}`ap_rec_share:.2f` of the target's variance (what silence
# scores), and an MSE that is barely met rewards a quieter output ({glue:text}`ap_level:+.1f` dB).
#
# So **no trained run of this book passes all four tests of version 2**, but each test is passed by some:
# the level, input-dependence and spectral tests by the MR-STFT runs of the exploratory sweep below (which
# fail only no-copy: they hide a lagged copy), the no-copy test by both positive controls. Whether one
# objective can meet all four in this budget is open; the score is not unpassable test by test.

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
sweep_scores = first.score_runs(sweep, RUNS, REMEDY_V2)
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

# %% tags=["hide-input"]
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

# %% tags=["hide-input"]
def described(name):
    r = c8.remedies[name]
    diff = "" if r.vs_none is None else f", {r.vs_none.mean:+.1f} dB vs none [{r.vs_none.low:+.1f}, {r.vs_none.high:+.1f}]"
    return f"{name}: {r.score_passed}/{r.n} pass score v2, ends {r.level_end_db:+.1f} dB{diff}"


claims = [Claim("C8", "a small reconstruction loss (0.01) is the remedy", "weight 0.01",
                "; ".join(described(n) for n in c8.remedies) + f"; registered positive control passes {sum(s.passed for s in pos)}/{len(pos)}, "
                f"the all-pass control (exploratory) {ap_pass}/{len(ap_runs)}; on the ε road (exploratory) "
                + ", ".join(f"{n} {d.mean:+.1f} dB [{d.low:+.1f}, {d.high:+.1f}]" for n, d in eps_lift.items()), c8.verdict)]
checks.require(claims, {"C8": "refuted"})  # the text and the introduction read C8 from this rule
glue("claims", claims_html(claims), display=False)
glue("data_seed", cfg.seed, display=False)
claims_html(claims)

# %% [markdown]
# **Verdict on C8: {glue:text}`c8_verdict`**, by the second registration's rule read with version 2 of the
# score ({glue:text}`c8_reason`), and read per road it is narrower than the word. On the quiet that weight
# decay makes, neither reading of the seed's remedy at 0.01 lifts the level or makes the output depend on
# its inputs. On the quiet a large ε makes (the first registration's frozen start, an ε in disguise) the
# MR-STFT loss did lift the level ("partly"). On the ε road from PyTorch's start (exploratory) neither
# lifts it: lifted beyond the margin there, {glue:text}`eps_lifts`. So the lift is the frozen start's, where
# the inserted gain holds the output far below the target the spectral loss asks for, not the ε pull's; the
# seed's remedy undoes neither road from PyTorch's start. Whether it passes the score cannot be said, since
# the registered positive control, which asked for everything the score checks, failed too, the
# exploratory one was not learned in the budget, and the runs that pass the spectral test hide lagged copies.
#
# **Recommendation.** If your output goes quiet under correlation penalties, first remove the cause
# ({ref}`chapter 4 <ch-collapse>`: an ε comparable to your output's $s_o s_t$, a fixed attenuation, or
# weight decay on LayerNorm's parameters) rather than add a term against the symptom. If you want an
# output that depends on its inputs, follows the target's spectrum and copies nothing, measure each of
# them ({ref}`chapter 6 <ch-diagnose>`), not the level alone; asking for each in the objective is the
# obvious next step, but our one registered attempt (the positive control) did not pass, so it is a
# direction, not a recipe.

# %% tags=["remove-input"]
checks.summary()
