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
# variance hinge {cite}`bardes2022vicreg` asks only for energy. This chapter sweeps all three,
# starting from a configuration that goes quiet without them ({ref}`chapter 4 <ch-collapse>`:
# $\varepsilon$ in the correlation equal to $s$ at the target's level, and an output that starts
# 12 dB below the target).

# %% tags=["hide-input"]
# Colab or a fresh kernel: install resmix, the version this book was built with, when it is missing.
# tools/install_cell.py writes the source from _config.yml; RESMIX_INSTALL_SOURCE overrides it.
try:
    import resmix  # noqa: F401
except ImportError:
    import importlib, os, subprocess, sys  # noqa: E401
    source = os.environ.get("RESMIX_INSTALL_SOURCE", "git+https://github.com/resmix/resmix@v0.2.0")
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", f"resmix[book] @ {source}"])
    importlib.invalidate_caches()

# %%
import os
from dataclasses import replace

import pandas as pd
import torch
from myst_nb import glue

from resmix import metrics, plots, score, study
from resmix.config import get_profile
from resmix.data import frame, held_out, unframe
from resmix.diagnostics import output_gain_for, untrained_level_db
from resmix.measure import final_output
from resmix.listen import players
from resmix.report import Claim, claims_html, glue_all, require, setup_html

exp = get_profile()
cfg = exp.data
EPOCHS = 20 if exp.profile == "quick" else exp.train.epochs  # quick: 39 runs in about 3 minutes
x_wave, y_wave = held_out(cfg)  # held-out clips, [B, N]
xf, yf = frame(x_wave, cfg.frame_size), frame(y_wave, cfg.frame_size)  # [B, D, T]
RAW = {"residual": "none", "input_scale": "raw"}  # as in chapter 4: the first book's input scale
start_db = untrained_level_db(replace(exp.model, **RAW), xf, yf, seed=exp.train.seed)
base = exp.with_(name="ch5", model=RAW | {"output_gain": output_gain_for(-12, start_db)},  # as in ch. 4
                 train={"epochs": EPOCHS},
                 loss={"anti_correlation": 1.0, "novelty": 1.0, "reconstruction": 0.0, "eps": cfg.rms ** 2})
WEIGHTS = [0.001, 0.01, 0.1, 1.0]
SEEDS = [0, 1, 2]
exps = (study.grid(base, {}, SEEDS)
        + study.grid(base.with_(loss={"recon_kind": "mse"}), {"loss.reconstruction": WEIGHTS}, SEEDS)
        + study.grid(base.with_(loss={"recon_kind": "mrstft"}), {"loss.reconstruction": WEIGHTS}, SEEDS)
        + study.grid(base, {"loss.variance": WEIGHTS}, SEEDS))
runs = study.run_grid(exps, "_output/results/ch5", workers=os.cpu_count(), progress=False)


def remedy(h):
    lo = h.experiment.loss
    if lo.variance > 0:
        return "variance hinge", lo.variance
    if lo.reconstruction > 0:
        return lo.recon_kind, lo.reconstruction
    return "none", 0.0


rows = [{"remedy": remedy(h)[0], "weight": remedy(h)[1], "seed": study.setting(h, "train.seed"),
         **{k: h.last[f"val_{k}"] for k in ("rms_ratio_db", "corr_target", "corr_input", "lsd", "flatness",
                                             "common_share", "swap_input", "swap_target", "lag_corr_target")}}
        for h in runs]
df = pd.DataFrame(rows)
print(f"profile {exp.profile}, device {runs[0].meta['device']}, {len(runs)} runs of {EPOCHS} epochs")

# %% [markdown]
# The setup of the baseline run (each remedy changes only the loss line). Like chapter 4, this
# chapter keeps the first book's raw input scale (`input_scale="raw"`, audio well below the
# position codes; {ref}`chapter 3 <input-scale>`), so its numbers are comparable with chapter 4's.
# The columns `common_share` and `swap_*` of the table below say how far each trained output
# depends on its inputs at all.

# %%
setup_html(base)

# %% [markdown]
# ## A score for "meaningful but not copied"
#
# From signal-processing metrics only, a run's final output passes four tests:
# its level is within 6 dB of the target's; its |correlation| with both target and input is
# below 0.1; its log-spectral distance to the target is below that of white noise at the
# target's level; its spectral flatness is below white noise's. The score is the fraction passed.
# The noise references are measured, not assumed:

# %%
noise = torch.randn(y_wave.shape, generator=torch.Generator().manual_seed(0)) * metrics.rms(y_wave)[:, None]
LSD_NOISE = float(metrics.log_spectral_distance(noise, y_wave).mean())
FLAT_NOISE = float(metrics.spectral_flatness(noise).mean())
glue("lsd_noise", LSD_NOISE, display=False)
glue("flat_noise", FLAT_NOISE, display=False)
df["score"] = ((df["rms_ratio_db"].abs() <= 6).astype(float) + ((df["corr_target"].abs() < 0.1)
               & (df["corr_input"].abs() < 0.1)) + (df["lsd"] < LSD_NOISE) + (df["flatness"] < FLAT_NOISE)) / 4
summary = df.groupby(["remedy", "weight"], sort=False).agg(["mean", "std"]).drop(columns="seed")
summary.columns = [f"{a}_{b}" for a, b in summary.columns]
summary = summary.reset_index()
print(f"white noise at the target's level: LSD {LSD_NOISE:.1f} dB, flatness {FLAT_NOISE:.2f}")
summary.round(3)

# %% mystnb={"image": {"alt": "Output level in dB against absolute correlation with the target for each remedy and weight, mean of three seeds with error bars"}}
fig = plots.level_vs_correlation(summary.rename(columns={"rms_ratio_db_mean": "val_rms_ratio_db_mean",
                                                         "rms_ratio_db_std": "val_rms_ratio_db_std",
                                                         "corr_target_mean": "val_corr_target_mean",
                                                         "corr_target_std": "val_corr_target_std"}), "remedy")
for _, r in summary.iterrows():
    fig.axes[0].annotate(f"{r['weight']:g}", (r["rms_ratio_db_mean"], abs(r["corr_target_mean"])), fontsize=7,
                         xytext=(3, 3), textcoords="offset points")
fig.axes[0].axvspan(-6, 6, color="green", alpha=0.08, label="within 6 dB")
fig.axes[0].set_title("each point: mean of 3 seeds (bars: std); labels: weight", loc="left")
fig

# %% mystnb={"image": {"alt": "Output level relative to the target over epochs for no remedy and each remedy at weight 0.01 and 1"}}
sel = {f"{name} {w:g}": [h for h in runs if remedy(h) == (name, w)]
       for name, w in [("none", 0.0)] + [(k, w) for k in ("mse", "mrstft", "variance hinge") for w in (0.01, 1.0)]}
fig = plots.curves(sel, ["val_rms_ratio_db", "val_corr_target"], ["output level relative to target (dB)",
                                                                  "correlation with target"])
fig.axes[0].axhline(0, color="k", lw=0.8)
fig.axes[0].legend(fontsize=7, ncol=2)
fig

# %% [markdown]
# ## Ranking

# %%
ranking = summary.sort_values(["score_mean", "rms_ratio_db_mean"], key=lambda c: -c if c.name == "score_mean"
                              else c.abs()).reset_index(drop=True)
ranking.index += 1
best = ranking.iloc[0]
at_001 = summary[summary["weight"] == 0.01].set_index("remedy")
none = summary[summary["remedy"] == "none"].iloc[0]
glue("best_remedy", f"{best['remedy']} at weight {best['weight']:g}", display=False)
glue("best_score", float(best["score_mean"]), display=False)
glue("best_db", float(best["rms_ratio_db_mean"]), display=False)
glue("none_db", float(none["rms_ratio_db_mean"]), display=False)
glue("none_score", float(none["score_mean"]), display=False)
for kind in ("mse", "mrstft", "variance hinge"):
    key = kind.split()[0]
    glue(f"{key}_001_db", float(at_001.loc[kind, "rms_ratio_db_mean"]), display=False)
    glue(f"{key}_001_score", float(at_001.loc[kind, "score_mean"]), display=False)
    glue(f"{key}_001_corr", float(at_001.loc[kind, "corr_target_mean"]), display=False)
level = summary.set_index(["remedy", "weight"])["rms_ratio_db_mean"]
glue("mse_1_db", float(level[("mse", 1.0)]), display=False)
glue("mrstft_1_db", float(level[("mrstft", 1.0)]), display=False)
glue("var_01_db", float(level[("variance hinge", 0.1)]), display=False)
assert level[("mse", 1.0)] < level[("none", 0.0)], "the text says the MSE makes the output quieter"
assert level[("mrstft", 1.0)] > level[("none", 0.0)], "the text says the STFT loss raises the level"
assert abs(level[("variance hinge", 0.1)]) < 1.0, "the text says the hinge holds the level at the target's"
assert best["remedy"] == "variance hinge", "the recommendation describes the variance hinge"
ranking[["remedy", "weight", "score_mean", "rms_ratio_db_mean", "corr_target_mean", "lsd_mean", "flatness_mean"]].round(3)

# %% [markdown]
# Without any remedy the output ends {glue:text}`none_db:+.1f` dB from the target (score
# {glue:text}`none_score:.2f`). At the seed's weight of 0.01:
#
# | remedy | level (dB) | corr with target | score |
# |---|---|---|---|
# | waveform MSE | {glue:text}`mse_001_db:+.1f` | {glue:text}`mse_001_corr:+.3f` | {glue:text}`mse_001_score:.2f` |
# | multi-resolution STFT | {glue:text}`mrstft_001_db:+.1f` | {glue:text}`mrstft_001_corr:+.3f` | {glue:text}`mrstft_001_score:.2f` |
# | variance hinge | {glue:text}`variance_001_db:+.1f` | {glue:text}`variance_001_corr:+.3f` | {glue:text}`variance_001_score:.2f` |
#
# The best configuration overall is {glue:text}`best_remedy` (score {glue:text}`best_score:.2f`,
# level {glue:text}`best_db:+.1f` dB).
#
# **The waveform MSE deepens the collapse it was meant to cure.** With the correlation forbidden,
# the cheapest way to lower an MSE to the target is to lower the output: at weight 1 the output
# ends {glue:text}`mse_1_db:+.1f` dB from the target, against {glue:text}`none_db:+.1f` dB with no
# remedy. The phase-blind STFT loss pulls the level up (to {glue:text}`mrstft_1_db:+.1f` dB at weight 1),
# but at the seed's weight its pull is weak. The variance hinge does exactly what it says: once its
# weight is large enough it holds the output's spread at the target's ({glue:text}`var_01_db:+.1f` dB
# at weight 0.1), and asks for nothing else.
#
# Listen to each remedy at weight 0.01 (seed 0):

# %%
listen = {"input": x_wave[0], "target": y_wave[0]}
for e in exps:
    if e.train.seed == 0 and (e.loss.reconstruction == 0.01 or e.loss.variance == 0.01
                              or (e.loss.reconstruction == 0 and e.loss.variance == 0)):
        h = next(h for h in runs if study.run_key(h.experiment) == study.run_key(e))
        name, w = remedy(h)
        with torch.no_grad():
            listen[f"{name} {w:g}"] = unframe(study.load_model(e, "_output/results/ch5")(xf[:1], yf[:1])[1])[0]
players(listen, cfg.sample_rate, "_output/05_remedy")

# %% mystnb={"image": {"alt": "Spectrograms of the target and of the output of each remedy at weight 0.01"}}
plots.spectrograms({k: v for k, v in listen.items() if k != "input"}, cfg.sample_rate)

# %% [markdown]
# ## Testing the score itself
#
# A score is an instrument, and an instrument is tested on inputs whose answer is known before it
# is trusted. Run known controls through the score above: silence, a copy of the target, a copy
# shifted by 12 samples (1.5 ms), one fixed waveform whatever the inputs, white noise at the
# target's level, and a phase-randomised target (the target's magnitude spectrum with random
# phases: a fair "meaningful but not copied" output, which should pass). Each control is a model
# `model(input, target)`, so it goes through the same code as a trained one:

# %%
def first_book_score(model):
    """The four tests above, on one model's held-out output (fractions of clips passing, averaged)."""
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
fooled = [n for n in ("copy of the target", "target shifted 12 samples", "fixed waveform")
          if old_on_controls.loc[n, "score"] >= 0.75]
glue_all({"old_fooled": ", ".join(fooled) or "none", "old_n_fooled": len(fooled)})

# %% [markdown]
# The first book's score gives at least three of its four points to: {glue:text}`old_fooled`. It
# cannot see a copy at a lag, an output that ignores its inputs, or (white noise aside) much
# else than level. `resmix.score.remedy_score` replaces it with four tests whose thresholds live,
# with their reasons, in `resmix.criteria` and were fixed on these controls before any trained run
# was scored: **level** within 6 dB of the target; **input dependence** (swapping clips' inputs or
# targets changes the output by at least a quarter of its norm, and at most half of its power is
# one waveform shared by all clips); **no copy** (the best |correlation| within ±10 ms with the
# clip's own target or input exceeds the same search against other clips' by at most 0.2); and a
# **spectral** match (the log-spectral distance to the own target beats that to other clips'
# targets by at least 1 dB). The sanity table, each control against the test meant to catch it:

# %%
sanity = score.sanity_table(xf, yf, cfg.sample_rate)
pd.DataFrame([r.as_dict() for r in sanity]).set_index("control")

# %% tags=["remove-cell"]
assert score.sanity_problems(sanity) == [], score.sanity_problems(sanity)

# %% [markdown]
# Every control fails the test meant to catch it, and the phase-randomised target passes all four
# (narrowly: a ±10 ms window holds a full period of every note above 100 Hz, so any output at the
# target's pitches has some lagged correlation with it). Now the trained runs, every seed:

# %%
def new_score(e):
    r = score.remedy_score(study.load_model(e, "_output/results/ch5"), xf, yf, cfg.sample_rate)
    return {name: float(t.passed) for name, t in r.tests().items()} | {"all four": float(r.passed)}


scored = pd.DataFrame([{"remedy": remedy(h)[0], "weight": remedy(h)[1], **new_score(h.experiment)} for h in runs])
passing = scored.groupby(["remedy", "weight"], sort=False).mean()  # fraction of seeds passing each test
passing.round(2)

# %% tags=["remove-cell"]
at_001_new = passing.xs(0.01, level="weight")
glue_all({"ch5_steps": runs[0].last["step"], "new_n_all": int((passing["all four"] == 1).sum()), "new_n_settings": len(passing),
          "new_dependence_max": float(passing["input_dependence"].max()),
          "new_mse_001": float(at_001_new.loc["mse", "all four"]), "new_mrstft_001": float(at_001_new.loc["mrstft", "all four"])})
if passing["input_dependence"].max() == 0:
    new_reading = ("No remedy at any weight makes the output depend on its inputs: every trained output here fails "
                   "the input-dependence test, so none is a remedy in the sense of the seed's \"meaningful audio\".")
else:
    new_reading = "Only some settings pass the input-dependence test; the table shows which."
glue("new_reading", new_reading, display=False)

# %% [markdown]
# Under the new score {glue:text}`new_n_all` of {glue:text}`new_n_settings` settings pass all four
# tests in every seed. {glue:text}`new_reading` At the seed's weight of 0.01 the fraction of seeds
# passing all four is {glue:text}`new_mse_001:.2f` for the MSE and {glue:text}`new_mrstft_001:.2f`
# for the MR-STFT loss. This chapter's runs keep the first book's raw input scale and
# {glue:text}`ch5_steps:.0f` optimizer steps with three seeds and one data seed; re-running them with the input scale of
# chapter 3, longer training and paired statistics is the next step of the study.
#
# %% [markdown]
# ## What we measured

# %%
ok_001 = [k for k in ("mse", "mrstft") if at_001_new.loc[k, "all four"] == 1.0]  # every seed passes the new score
c8 = "supported" if len(ok_001) == 2 else ("partly" if ok_001 else "refuted")
claims = [Claim("C8", "a small reconstruction loss (0.01) is the remedy", "weight 0.01",
                "new score at 0.01, seeds passing all four tests: " + ", ".join(
                    f"{k} {at_001_new.loc[k, 'all four']:.2f} ({at_001.loc[k, 'rms_ratio_db_mean']:+.1f} dB)"
                    for k in ("mse", "mrstft")) + "; first book's score: " + ", ".join(
                    f"{k} {at_001.loc[k, 'score_mean']:.2f}" for k in ("mse", "mrstft")), c8)]
require(claims, {"C8": "refuted"})  # the introduction relies on this verdict
glue("c8_verdict", c8, display=False)
glue("claims", claims_html(claims), display=False)
claims_html(claims)

# %% [markdown]
# The verdict on C8 is **{glue:text}`c8_verdict`**: it is *supported* only if both
# reconstruction kinds at 0.01 pass all four tests in every seed, *partly* if one does,
# *refuted* if neither does (the variance hinge is this book's alternative, not the seed's remedy).
#
# **Recommendation.** No setting here passes the new score, so none is a remedy in the seed's
# sense. What the runs do show: the variance hinge ({glue:text}`best_remedy` ranks first on the
# first book's level-driven score) holds the level, the one thing the penalties cannot see; a
# waveform MSE is the wrong tool when correlation is penalised, and a spectral loss needs a large
# weight to hold the level. None of them makes the output use its inputs: start from the input
# scale of {ref}`chapter 3 <input-scale>` and measure input dependence while training. Whatever the remedy, watch the level
# meter and both correlation meters during training ({ref}`chapter 6 <ch-diagnose>`).
