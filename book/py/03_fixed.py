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
# (ch-fixed)=
# # 3. The fixed design
#
# The fix drops both residual averages: each stage outputs its learned branch alone,
#
# $$
# \text{output}_1 = f_1(I, T), \qquad \text{output}_2 = f_2(I, \text{output}_1, T).
# $$
#
# The seed claims that such a model with zero learning outputs "random/zero/constant" audio (C5)
# and that it is harder to train (C6). Residual connections are known to ease optimisation
# {cite}`he2016deep,he2016identity`, and starting a residual branch at zero is a standard
# trick for it {cite}`de2020batch,bachlechner2021rezero`; here the question is narrower:
# on the same task and budget, does the design without the averages learn more slowly?

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
from dataclasses import replace

import pandas as pd
import torch
from myst_nb import glue

from resmix import study
from resmix.book import plots
from resmix.book.claims import Claim, announce, claims_html, glue_all, require, setup_html
from resmix.book.listen import players
from resmix.config import get_profile
from resmix.data import frame, held_out, unframe
from resmix.measure import metrics
from resmix.models import TwoStageModel

exp = get_profile()
print(announce(exp))  # the profile, its device (the chapters that train print their expected time too)
cfg = exp.data
x_wave, y_wave = held_out(cfg)  # [B, N]
xf, yf = frame(x_wave, cfg.frame_size), frame(y_wave, cfg.frame_size)  # [B, D, T]

# %% [markdown]
# ## Zero learning
#
# With zero-initialised output projections the fixed design outputs exactly zero; with
# PyTorch's default initialisation it outputs whatever the untrained network computes:

# %%
torch.manual_seed(exp.train.seed)
zero = TwoStageModel(replace(exp.model, residual="none", zero_init_output=True))
default = TwoStageModel(replace(exp.model, residual="none"))  # input_scale: the default, see below
with torch.no_grad():
    out_zero = zero(xf, yf)[1]
    out_default = default(xf, yf)[1]
zero_max = float(out_zero.abs().max())
rms_default = float(metrics.rms(out_default).mean())
corr_default = float(metrics.pearson(out_default, yf).mean())
flat_default = float(metrics.spectral_flatness(unframe(out_default)).mean())
print(metrics.level_report(out_default, xf, yf, label="Output"))

# %% tags=["remove-cell"]
glue("c5_zero_max", zero_max, display=False)
glue("c5_rms_default", rms_default, display=False)
glue("c5_rms_ratio_db", float(metrics.rms_ratio_db(out_default, yf).mean()), display=False)
glue("c5_corr_default", corr_default, display=False)
glue("c5_flat_default", flat_default, display=False)

# %% [markdown]
# The zero-initialised model's largest output sample is {glue:text}`c5_zero_max:.1f`. The
# default-initialised one outputs RMS {glue:text}`c5_rms_default:.3f`
# ({glue:text}`c5_rms_ratio_db:+.1f` dB relative to the target), correlated
# {glue:text}`c5_corr_default:+.3f` with the target, with spectral flatness
# {glue:text}`c5_flat_default:.2f` (0 is a pure tone, 1 white noise). Listen:

# %% tags=["hide-input"]
players({"target": y_wave[0], "fixed design, default init (untrained)": unframe(out_default)[0]},
        cfg.sample_rate, "_output/03_fixed")

# %% mystnb={"image": {"alt": "Spectrograms of the target and of the untrained fixed design's output"}}
plots.spectrograms({"target": y_wave[0], "untrained fixed design": unframe(out_default)[0]}, cfg.sample_rate)

# %% [markdown]
# ```{admonition} Try it: the shortcut on or off
# :class: tip
# Set `residual` to `"leaky"` or `"none"` and rerun (a second). With the learned branches at zero, the
# leaky design already outputs a mix that correlates 0.71 with the target, 3 dB below its level;
# the fixed design outputs exactly nothing. Everything the fixed design outputs, it has to learn.
# ```

# %% tags=["try-it"]
residual = "none"  # or "leaky": the seed's first version
untrained = TwoStageModel(replace(exp.model, residual=residual, zero_init_output=True))
with torch.no_grad():
    out = untrained(xf, yf)[1]  # [B, D, T]
corr = f"correlation with the target {float(metrics.pearson(out, yf).mean()):+.3f}" if out.abs().max() > 0 else "silence"
print(f"residual={residual!r}: largest sample {float(out.abs().max()):.3f}; {corr}")

# %% tags=["remove-cell"]
with torch.no_grad():  # the outcomes the box states, for both settings
    outs = {r: TwoStageModel(replace(exp.model, residual=r, zero_init_output=True))(xf, yf)[1] for r in ("leaky", "none")}
assert float(outs["none"].abs().max()) == 0.0, "the Try-it box says the fixed design outputs exactly nothing"
assert abs(float(metrics.pearson(outs["leaky"], yf).mean()) - 2 ** -0.5) < 0.05, "the Try-it box says 0.71"
assert abs(float(metrics.rms_ratio_db(outs["leaky"], yf).mean()) + 3.0) < 0.5, "the Try-it box says 3 dB below the target"

# %% [markdown]
# (input-scale)=
# ## How loud the audio is where it enters the model
#
# Each stage adds sinusoidal position codes to its input projection. Position codes have unit
# amplitude; the clips have RMS {glue:text}`data_rms:.1f`. `ModelConfig.input_scale` chooses how
# the audio enters: `"raw"` (the first book) or `"rms"` (each stream divided by its own per-clip
# RMS; for the study's clips, all at RMS 0.1, that is a fixed gain of 10 on input and target, and
# for stage 2's view of stage 1's output it discards that output's level). In stage 1 of an
# untrained fixed design: the level of the projected audio (the projection's bias left out), of
# the projection's bias, both relative to the position codes, and the common share of the
# untrained model's output (1 if it were the same for every clip):

# %%
db = lambda a, b: float(20 * torch.log10(a.pow(2).mean().sqrt() / b.pow(2).mean().sqrt()))  # noqa: E731
levels = {}
for scale in ("raw", "rms"):
    torch.manual_seed(exp.train.seed)
    model = TwoStageModel(replace(exp.model, residual="none", input_scale=scale))
    with torch.no_grad():
        h, pos = model.stage1.embed(xf, yf)  # [B, T, C] projected audio, [T, C] position codes
        bias = model.stage1.inp.bias
        levels[scale] = {"audio re positions (dB)": db(h - bias, pos), "bias re positions (dB)": db(bias, pos),
                         "untrained common share": float(metrics.common_share(model(xf, yf)[1]))}
pd.DataFrame(levels).T.round(3)

# %% tags=["remove-cell"]
glue_all({"data_rms": cfg.rms, "level_raw_db": levels["raw"]["audio re positions (dB)"],
          "level_rms_db": levels["rms"]["audio re positions (dB)"], "bias_db": levels["raw"]["bias re positions (dB)"],
          "common_untrained_raw": levels["raw"]["untrained common share"],
          "common_untrained_rms": levels["rms"]["untrained common share"]})
assert levels["raw"]["untrained common share"] > levels["rms"]["untrained common share"], \
    "the text says raw input leaves the untrained output more shared across clips"

# %% [markdown]
# Raw audio enters {glue:text}`level_raw_db:.1f` dB relative to the position codes (the
# projection's bias alone sits at {glue:text}`bias_db:.1f` dB, above the audio); RMS-scaled audio
# at {glue:text}`level_rms_db:+.1f` dB. The untrained model's output follows: with raw input
# {glue:text}`common_untrained_raw:.2f` of its power is one waveform shared by every clip, set by
# frame position and biases, against {glue:text}`common_untrained_rms:.2f` with RMS scaling.
#
# Which scale trains better is measured, not assumed: train both designs with both scales on a
# plain reconstruction of the target (waveform MSE, weight 1, no penalties), the task where using
# the inputs is the whole point. The rule was written before the runs as: the default is the
# scale whose output depends more on its inputs (lower common share, higher swap sensitivity) and
# reaches the lower held-out error. The setup:

# %% tags=["hide-input"]
base = exp.with_(name="ch3", loss={"anti_correlation": 0.0, "novelty": 0.0,
                                   "reconstruction": 1.0, "recon_kind": "mse"})
seeds = [0, 1]
LRS = [1e-3, 3e-3, 1e-2]  # see the learning-rate sweep below
setup_html(base)

# %%
scale_runs = study.run_grid(study.grid(base, {"model.residual": ["leaky", "none"],
                                              "model.input_scale": ["raw", "rms"]}, seeds=seeds),
                            "_output/results/ch3", workers=os.cpu_count(), progress=False)
scale_table = study.summarise(scale_runs, ["model.residual", "model.input_scale"],
                              ["val_loss_reconstruction", "val_common_share", "val_swap_input",
                               "val_swap_target", "val_corr_target"])
scale_table.filter(regex="model|_mean|_std").round(4)

# %% tags=["remove-cell"]
by = scale_table.set_index(["model.residual", "model.input_scale"])
col = lambda r, s, k: float(by.loc[(r, s), f"val_{k}_mean"])  # noqa: E731
tests = {r: {"lower error": col(r, "rms", "loss_reconstruction") < col(r, "raw", "loss_reconstruction"),
             "lower common share": col(r, "rms", "common_share") <= col(r, "raw", "common_share"),
             "higher swap sensitivity": (col(r, "rms", "swap_input") + col(r, "rms", "swap_target")
                                         >= col(r, "raw", "swap_input") + col(r, "raw", "swap_target"))}
         for r in ("leaky", "none")}
glue_all({f"scale_{k}_{r}_{s}": col(r, s, k) for r in ("leaky", "none") for s in ("raw", "rms")
          for k in ("loss_reconstruction", "common_share", "swap_input", "swap_target")})
failed_leaky = [name for name, ok in tests["leaky"].items() if not ok]
glue("scale_leaky_sentence", "RMS scaling also meets every part of the rule for the leaky design" if not failed_leaky
     else f"for the leaky design the rule is not met in full: RMS scaling fails its test{'s' if len(failed_leaky) > 1 else ''} of {' and '.join(failed_leaky)}",
     display=False)
assert exp.model.input_scale == "rms" and all(tests["none"].values()), \
    f"the text says 'rms' meets the rule for the fixed design and is the default: {tests}"
paired = {r: [h_rms.last["val_loss_reconstruction"] < h_raw.last["val_loss_reconstruction"]
              for h_rms, h_raw in zip(study.group(scale_runs, ["model.residual", "model.input_scale"])[(r, "rms")],
                                      study.group(scale_runs, ["model.residual", "model.input_scale"])[(r, "raw")])]
          for r in ("leaky", "none")}


def lower_in(p):
    if all(p):
        return f"lower with RMS scaling in each of the {len(p)} seeds"
    if not any(p):
        return f"lower with the raw input in each of the {len(p)} seeds"
    return f"lower with RMS scaling in {sum(p)} of {len(p)} seeds"


glue_all({"n_seeds_scale": len(seeds), "scale_err_none": lower_in(paired["none"]),
          "scale_err_leaky": lower_in(paired["leaky"])})
assert all(paired["none"]), "the text says rms has the lower error in every seed for the fixed design"
assert (scale_table["val_common_share_mean"] < 0.5).all() and (scale_table["val_swap_target_mean"] > 1).all(), \
    "the text says every trained reconstruction depends on its inputs"

# %% [markdown]
# For the fixed design, RMS scaling reaches a held-out MSE of
# {glue:text}`scale_loss_reconstruction_none_rms:.2e` against
# {glue:text}`scale_loss_reconstruction_none_raw:.2e` raw, {glue:text}`scale_err_none`; for the
# leaky design {glue:text}`scale_loss_reconstruction_leaky_rms:.2e` against
# {glue:text}`scale_loss_reconstruction_leaky_raw:.2e`, {glue:text}`scale_err_leaky` (its residual
# hands the target to the output without the input projection, so how the audio enters matters
# less to it). The rule's
# comparative half is met on the fixed design only by margins within the spread between seeds (common
# share {glue:text}`scale_common_share_none_rms:.3f` against {glue:text}`scale_common_share_none_raw:.3f`;
# see the `_std` columns), and {glue:text}`scale_leaky_sentence`. Read plainly, after seeing these
# numbers: on this task both scales give outputs that depend on their inputs (every common share
# below 0.5, against 1 for an output that ignores its inputs and 1/B for B independent clips; every
# target swap sensitivity above 1, against about $\sqrt2$ for outputs that change completely), and
# RMS scaling lowers the fixed design's error. On the untrained model the difference is stark
# (above). The package's default is therefore `ModelConfig.input_scale = "rms"`, and every later
# chapter uses it.
#
# ## Is it harder to train?
#
# The seed says the design without residual averages is harder to train (C6). Residual
# connections are known to ease optimisation {cite}`he2016deep,he2016identity`, but the seed's
# averages are not identity shortcuts around a layer (both designs keep those inside their
# transformer blocks): they add the *inputs* to the output. On a reconstruction of the target
# that is half the answer, so a comparison on that task alone favours the leaky design by
# construction. The control is a task as simple, but whose answer the residual does not carry:
# the **difference** $(I - T)/\sqrt2$. It is a linear map of the inputs like the target itself,
# and for independent clips of equal RMS it is uncorrelated with the leaky residual
# $\tfrac12(I+T)$. The fixed branch must output $\tfrac{1}{\sqrt2}(I - T)$; the leaky branch
# $(\tfrac{1}{\sqrt2} - \tfrac12)\,I - (\tfrac{1}{\sqrt2} + \tfrac12)\,T$ (the answer minus its
# residual), a slightly larger map. If the fixed design
# is harder to *optimise*, it should lose on both tasks; if the leaky design only profits from what
# its residual carries, it wins on $T$ and not on the difference. Each design gets its best
# learning rate from a sweep, per task (both seeds, same data). Two choices here were made after
# seeing runs, and are exploratory: the sweep was moved up one step after a first sweep over
# $\{3\cdot10^{-4}, 10^{-3}, 3\cdot10^{-3}\}$ put every best rate at its top; and the control
# replaced two earlier ones, the negated target (lopsided: the leaky branch must then undo 1.5
# times the target, not 0.5) and the sample-wise product $I \odot T$ (neither design learned it
# in the 120 steps of the previous quick profile, so it could not separate them).

# %% mystnb={"image": {"alt": "Held-out reconstruction error over optimizer steps for both designs at their best learning rate, reconstructing the target and the difference of input and target"}}
TASKS = ["target", "difference"]
tasks = study.grid(base, {"loss.recon_reference": TASKS, "model.residual": ["leaky", "none"],
                          "train.lr": LRS}, seeds=seeds)
task_runs = study.run_grid(tasks, "_output/results/ch3", workers=os.cpu_count(), progress=False)
sweep = study.summarise(task_runs, ["loss.recon_reference", "model.residual", "train.lr"],
                        ["val_loss_reconstruction"])
best = sweep.loc[sweep.groupby(["loss.recon_reference", "model.residual"])["val_loss_reconstruction_mean"].idxmin()]
by_run = study.group(task_runs, ["loss.recon_reference", "model.residual", "train.lr"])
plots.curves({f"{ref}, {res} (lr {lr:g})": by_run[(ref, res, lr)] for ref, res, lr in
              zip(best["loss.recon_reference"], best["model.residual"], best["train.lr"])},
             ["val_loss_reconstruction", "grad_norm_stage1"],
             ["held-out reconstruction MSE", "stage 1 gradient norm"], logy=[True, True])

# %%
sweep.pivot_table(index=["loss.recon_reference", "model.residual"], columns="train.lr",
                  values=["val_loss_reconstruction_mean", "val_loss_reconstruction_std"]).round(5)

# %% tags=["remove-cell"]
best_mse = {(ref, res): float(v) for ref, res, v in
            zip(best["loss.recon_reference"], best["model.residual"], best["val_loss_reconstruction_mean"])}
best_lr = {(ref, res): float(v) for ref, res, v in zip(best["loss.recon_reference"], best["model.residual"], best["train.lr"])}
ratio = {ref: best_mse[(ref, "none")] / best_mse[(ref, "leaky")] for ref in TASKS}
glue_all({"c6_ratio_target": ratio["target"], "c6_ratio_difference": ratio["difference"],
          "c6_steps": task_runs[0].last["step"],
          "c6_lr_edge": sum(best_lr[k] in (LRS[0], LRS[-1]) for k in best_lr)}
         | {f"c6_best_{ref}_{res}": best_mse[(ref, res)] for ref, res in best_mse}
         | {f"c6_lr_{ref}_{res}": best_lr[(ref, res)] for ref, res in best_lr})
C6_MARGIN = 1.5  # fixed before the runs: "harder" means at least 1.5x the best held-out error
silence_mse = cfg.rms ** 2  # an all-zero output's error on either task: the scale for "learned"
glue_all({"c6_silence_mse": silence_mse,
          "c6_explained_leaky": 1 - best_mse[("difference", "leaky")] / silence_mse,
          "c6_explained_none": 1 - best_mse[("difference", "none")] / silence_mse})
c6_verdict = ("supported" if min(ratio.values()) >= C6_MARGIN
              else "partly" if ratio["target"] >= C6_MARGIN else "refuted")
c6_reading = {"supported": "By that rule the fixed design is harder to train on both tasks.",
              "partly": "By that rule the fixed design is slower only where the residual carries half of the "
                        "answer: the leaky design's advantage in these runs is a head start in content.",
              "refuted": "By that rule the fixed design is not harder to train on either task."}[c6_verdict]
glue("c6_reading", c6_reading, display=False)
assert all(1 - best_mse[("difference", r)] / silence_mse > 0.5 for r in ("leaky", "none")), \
    "the text says both designs learn the difference"

# %% [markdown]
# At each design's best learning rate, after {glue:text}`c6_steps:.0f` optimizer steps, the fixed
# design's held-out error is {glue:text}`c6_ratio_target:.2f` times the leaky design's on the
# target and {glue:text}`c6_ratio_difference:.2f` times on the difference. The criterion, fixed before
# the runs: "harder to train" means a best error at least 1.5 times the other design's.
# {glue:text}`c6_reading` Both designs learn the difference (they remove
# {glue:text}`c6_explained_leaky:.0%` and {glue:text}`c6_explained_none:.0%` of the error an all-zero
# output would make). What the numbers show is speed after {glue:text}`c6_steps:.0f` steps, not
# what either design reaches eventually; {glue:text}`c6_lr_edge:.0f` of the four best learning
# rates lie at an edge of the sweep, and two seeds and one data seed are thin evidence for a ratio
# near the margin.
#
# Listen to both trained reconstructions of the target (seed 0, learning rate 1e-3):

# %% tags=["hide-input"]
listen = {"target": y_wave[0]}
for r in ("leaky", "none"):
    model = study.load_model(base.with_(model={"residual": r}), "_output/results/ch3")
    with torch.no_grad():
        listen[f"{r}: reconstruction after training"] = unframe(model(xf[:1], yf[:1])[1])[0]
players(listen, cfg.sample_rate, "_output/03_fixed")

# %% [markdown]
# ## What we measured

# %% tags=["hide-input"]
shared = levels["rms"]["untrained common share"]  # the book's default model, untrained
c5_verdict = ("refuted" if zero_max != 0 or abs(corr_default) >= 0.1
              else "supported" if shared > 0.9 else "partly")  # near-constant: over 90% of the power shared
claims = [
    Claim("C5", "no residuals + zero learning = random/zero/constant output", "random/zero/constant",
          f"zero init: max |out| = {zero_max:.1f} (by construction); default init: uncorrelated with the target "
          f"(corr {corr_default:+.3f}), {rms_default / cfg.rms:.1f}x its RMS, common share "
          f"{levels['rms']['untrained common share']:.2f} (raw input: {levels['raw']['untrained common share']:.2f})",
          c5_verdict),
    Claim("C6", "training without residuals is harder", "harder",
          f"best held-out MSE, fixed/leaky: {ratio['target']:.2f} reconstructing the target, "
          f"{ratio['difference']:.2f} reconstructing (input - target)/sqrt 2 ({task_runs[0].last['step']:.0f} steps, "
          f"best of {len(LRS)} learning rates, {len(seeds)} seeds)", c6_verdict),
]
claims_html(claims)

# %% tags=["remove-cell"]
glue("claims", claims_html(claims), display=False)  # for the introduction's findings table

# %% tags=["remove-cell"]
require(claims, {"C5": "partly", "C6": "partly"})  # the introduction and the readings above rely on these
