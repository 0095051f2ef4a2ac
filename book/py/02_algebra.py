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
# (ch-algebra)=
# # 2. The algebra behind the leak
#
# With both learned branches at zero, every stage of the leaky design is a fixed linear mix
# of the input $I$ and the target $T$. This chapter derives the mix exactly (claim C2), the
# correlation with the target it implies (C3), turns the derivation into a diagnostic (the
# leak probe), and then trains the leaky model with the anti-correlation and novelty
# penalties to see whether the residual really "overrides" them (C4).

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

import numpy as np
import pandas as pd
import sympy as sp
import torch
from IPython.display import Markdown
from myst_nb import glue

from resmix import study
from resmix.book import plots
from resmix.book.claims import Claim, announce, claims_html, glue_all, require, setup_html
from resmix.book.listen import players
from resmix.config import get_profile
from resmix.criteria import REMEDY
from resmix.data import frame, held_out, mix_correlated, unframe
from resmix.measure import algebra, decompose, metrics
from resmix.models import TwoStageModel
from resmix.registrations import first, second

exp = get_profile()
print(announce(exp))  # the profile, its device (the chapters that train print their expected time too)
cfg = exp.data
x_wave, y_wave = held_out(cfg)  # the held-out pairs, [B, N]
zero = TwoStageModel(replace(exp.model, residual="leaky", zero_init_output=True))

# %% [markdown]
# ## Stage by stage, exactly
#
# Write stage $k$'s zero-learning output as $a_k I + b_k T$. Stage 1 adds $\tfrac12(I+T)$,
# so $a_1 = b_1 = \tfrac12$. Stage 2 adds $\tfrac13(I + \text{output}_1 + T)$, so
# $a_2 = \tfrac13(1 + a_1)$ and likewise for $b$; a chain of $N$ such stages iterates the
# same map. `resmix.measure.algebra` does this in exact rational arithmetic:

# %%
coeffs = algebra.leak_coefficients(4)
seed_start = pd.DataFrame({"stage": [c.stage for c in coeffs],
                           "a (input)": [str(c.a_input) for c in coeffs],
                           "b (target)": [str(c.b_target) for c in coeffs]}).set_index("stage")
a_fix, b_fix = algebra.fixed_point()
a2 = coeffs[1].a_input
rounded = sp.Rational(33, 100) + sp.Rational(33, 100) * sp.Rational(1, 2)  # the seed's 33% + 16.5%
seed_start

# %% tags=["remove-cell"]
glue("c2_a2", str(a2), display=False)
glue("c2_rounded_pct", float(rounded * 100), display=False)
glue("c2_fixed", str(a_fix), display=False)

# %% [markdown]
# Every stage's weights are exactly {glue:text}`c2_a2`. The seed's "49.5%" comes from writing
# $\tfrac13$ as 33%: $33\% + 33\% \cdot 50\% =$ {glue:text}`c2_rounded_pct:.1f`%. Exactly,
# $\tfrac13 + \tfrac13\cdot\tfrac12 = \tfrac12$.
#
# The map $a \mapsto \tfrac13(1+a)$ has one fixed point, $a^\ast$ = {glue:text}`c2_fixed`, and
# pulls any start towards it with ratio $\tfrac13$ per stage. The seed's stage 1 starts *on*
# the fixed point, so no number of stages dilutes the leak. Starting a chain elsewhere, for
# example from a stage 1 that passed the input alone, shows the pull:

# %%
other = algebra.leak_coefficients(6, stage1=(1, 0))
gaps = [c.a_input - sp.Rational(1, 2) for c in other]
pd.DataFrame({"stage": [c.stage for c in other], "a (input)": [str(c.a_input) for c in other],
              "b (target)": [str(c.b_target) for c in other],
              "a - 1/2": [str(g) for g in gaps]}).set_index("stage")

# %% tags=["remove-cell"]
assert all(g2 / g1 == sp.Rational(1, 3) for g1, g2 in zip(gaps, gaps[1:]))

# %% [markdown]
# The model agrees with the algebra. With zero learning, the largest difference between
# stage $k$'s output and $a_k I + b_k T$ over all clips is:

# %%
with torch.no_grad():
    p = zero.parts(frame(x_wave, cfg.frame_size), frame(y_wave, cfg.frame_size))
xf, yf = frame(x_wave, cfg.frame_size), frame(y_wave, cfg.frame_size)
model_err = max(float((out - (float(c.a_input) * xf + float(c.b_target) * yf)).abs().max())
                for out, c in ((p.output1, coeffs[0]), (p.output2, coeffs[1])))
print(f"max |output_k - (a_k I + b_k T)| = {model_err:.1e}")

# %% tags=["remove-cell"]
assert model_err < 1e-6
glue("c2_model_err", model_err, display=False)

# %% [markdown]
# ```{admonition} Try it: stage 2's shortcut
# :class: tip
# Stage 2 adds $(I + O_1 + T)/3$. Change its three weights and rerun: with zero learning $O_1 = (I+T)/2$,
# so the output is $(a + b/2)\,I + (c + b/2)\,T$ and its correlation with the target follows from those two
# coefficients alone (for independent, equally loud clips). The seed's thirds give the same 0.71 as stage
# 1; weights (0, 0, 1) give 1, and (1, 0, 0) give 0.
# ```

# %% tags=["try-it"]
a, b, c = 1 / 3, 1 / 3, 1 / 3  # stage 2's weights on input, stage 1's output, target; try 0, 0, 1
out1 = 0.5 * (xf + yf)  # stage 1 with zero learning, [B, D, T]
out2 = a * xf + b * out1 + c * yf
predicted = algebra.predicted_correlation(a + b / 2, c + b / 2, 1.0, 1.0, 0.0)
print(f"correlation with the target: measured {float(metrics.pearson(out2, yf).mean()):.3f}, predicted {predicted:.3f}")

# %% tags=["remove-cell"]
for w in ((1 / 3, 1 / 3, 1 / 3), (0, 0, 1), (1, 0, 0)):  # the outcomes the box states
    o = w[0] * xf + w[1] * 0.5 * (xf + yf) + w[2] * yf
    want = algebra.predicted_correlation(w[0] + w[1] / 2, w[2] + w[1] / 2, 1.0, 1.0, 0.0)
    assert abs(float(metrics.pearson(o, yf).mean()) - want) < 0.05 and abs(want - {0: 2 ** -0.5, 1: 1.0, 2: 0.0}[
        [(1 / 3, 1 / 3, 1 / 3), (0, 0, 1), (1, 0, 0)].index(w)]) < 1e-9, ("the Try-it box's outcomes", w)

# %% [markdown]
# ## The correlation with the target
#
# For zero-mean $X$ (input) and $Y$ (target) with RMS $s_x, s_y$ and correlation $r$,
# the correlation of the mix $aX + bY$ with $Y$ is

# %%
formula = algebra.correlation_formula()
formula

# %% [markdown]
# With $a = b = \tfrac12$, independent signals ($r = 0$) and equal RMS this is
# $1/\sqrt2$. The synthetic clips are independent and normalised to equal RMS, so the
# prediction can be checked directly:

# %%
rho_xy = float(metrics.pearson(x_wave, y_wave).mean())
predicted = algebra.predicted_correlation(0.5, 0.5, 1.0, 1.0, rho_xy)
measured = float(metrics.pearson(p.output2, yf).mean())
print(f"input-target correlation {rho_xy:+.4f}; predicted {predicted:.4f}; measured {measured:.4f}")

# %% tags=["remove-cell"]
glue("c3_predicted", predicted, display=False)
glue("c3_measured", measured, display=False)
glue("c3_rho_xy", rho_xy, display=False)
glue("c3_sqrt2", 2 ** -0.5, display=False)

# %% [markdown]
# The measured correlation of the zero-learning output with the target is
# {glue:text}`c3_measured:.4f` against a prediction of {glue:text}`c3_predicted:.4f` (the
# clips' own input-target correlation, {glue:text}`c3_rho_xy:+.4f`, moves it slightly off
# $1/\sqrt2$ = {glue:text}`c3_sqrt2:.4f`). The seed's "0.7+" was measured on a trained model; this
# is the value its residual alone gives, and the training runs below ask what survives training.
#
# ### Across unequal levels and correlated inputs
#
# The same formula predicts the correlation when the input is louder or quieter than the target,
# or correlated with it. Sweep both, build the mixes from real clips, and compare:

# %%
rows = []
for level_db in (-12, -6, 0, 6, 12):
    for r in (0.0, 0.3, 0.6):
        y_r = mix_correlated(x_wave, y_wave, r) if r else y_wave  # target correlated r with input
        x_l = x_wave * 10 ** (level_db / 20)  # input level relative to target
        out = zero(frame(x_l, cfg.frame_size), frame(y_r, cfg.frame_size))[1].detach()
        rows.append({"input level (dB)": level_db, "r (set)": r,
                     "predicted": algebra.predicted_correlation(
                         0.5, 0.5, float(metrics.rms(x_l).mean()), float(metrics.rms(y_r).mean()),
                         float(metrics.pearson(x_l, y_r).mean())),
                     "measured": float(metrics.pearson(out, frame(y_r, cfg.frame_size)).mean())})
sweep = pd.DataFrame(rows)
sweep["|error|"] = (sweep["predicted"] - sweep["measured"]).abs()
sweep_max_err = float(sweep["|error|"].max())
sweep.round(4)

# %% tags=["remove-cell"]
assert sweep_max_err < 0.02, "theory and measurement disagree"
glue("c3_sweep_err", sweep_max_err, display=False)

# %% [markdown]
# Across the sweep theory and measurement differ by at most {glue:text}`c3_sweep_err:.4f`
# (per-clip correlations are averaged, the formula is applied to average levels). A louder
# input lowers the correlation with the target; an input correlated with the target raises it.
#
# ### Explore it
#
# Move the slider: it sets `r`, the input-target correlation. The figure shows the correlation
# with the target of the mix $(1-w)\,I + w\,T$ over the target's weight $w$ (the seed's
# residual is $w=\tfrac12$, the dashed line): the formula's curve and the measured points, both
# computed for every `r` when this page was built, so the slider needs no kernel. The figure
# after it shows $r = 0$ and $r = 0.5$ together.

# %%
mix = algebra.mix_sweep(x_wave, y_wave, weights=np.linspace(0, 1, 11), correlations=[v / 10 for v in range(-9, 10)])
plots.correlation_explorer(mix.weights, mix.correlations, mix.predicted, mix.measured)

# %% mystnb={"image": {"alt": "Correlation with the target against the target weight w: theory curves and measured points for input-target correlation 0 and 0.5"}}
ws = np.linspace(0, 1, 11)
fig_rows = {}
for r in (0.0, 0.5):
    y_r = mix_correlated(x_wave, y_wave, r) if r else y_wave
    r_meas = float(metrics.pearson(x_wave, y_r).mean())
    fig_rows[r] = ([algebra.predicted_correlation(1 - w, w, 1.0, 1.0, r_meas) for w in ws],
                   [float(metrics.pearson((1 - w) * x_wave + w * y_r, y_r).mean()) for w in ws])
fig = plots.theory_vs_measured(ws, fig_rows[0.0][0], fig_rows[0.0][1], "target weight w in (1-w) I + w T")
ax = fig.axes[0]
ax.plot(ws, fig_rows[0.5][0], color="C2", label="theory, r = 0.5")
ax.plot(ws, fig_rows[0.5][1], "s", color="C3", label="measured, r = 0.5")
ax.legend(fontsize=8)
fig

# %% [markdown]
# ## The leak probe: a diagnostic for any model
#
# Turned around, the algebra is a test. Fit a model's output as $aI + bT + c$ by least squares
# (`resmix.measure.metrics.leak_probe`). $R^2$ near 1 with $a, b$ near $\tfrac12$ says the output *is*
# a mix of its inputs; $R^2$ near 0 says whatever the model outputs, it is not a linear
# copy. On the zero-learning model:

# %%
probe = metrics.leak_probe(p.output2, xf, yf).means()
pd.Series(probe).round(4)

# %% tags=["remove-cell"]
glue("probe_r2", probe["r2"], display=False)

# %% [markdown]
# ## Training with the penalties: does the residual override them?
#
# The seed argues that with residuals, "even with anti-correlation penalties and novelty loss,
# the model could output something highly correlated with the target", because the residual
# adds half the target whatever the branch does (C4). That is true of the residual, but the
# branch is trained: it can cancel the residual ($f_2 \approx -\tfrac12(I+T)$), drown it (grow
# much louder), or both. Train the leaky model with anti-correlation and novelty penalties and
# no reconstruction loss, from both starts (default and zero-initialised output projections).
# The setup, read from the configuration that trains:

# %% tags=["hide-input"]
base = exp.with_(name="ch2", model={"residual": "leaky"},
                 loss={"anti_correlation": 1.0, "novelty": 1.0, "reconstruction": 0.0})
seeds = [0, 1]
setup_html(base)

# %% mystnb={"image": {"alt": "Correlation with target, output RMS, leak-probe target weight and common share over optimizer steps for the leaky model trained with penalties, from default and zero-initialised outputs"}}
runs = study.run_grid(study.grid(base, {"model.zero_init_output": [False, True]}, seeds=seeds),
                      "_output/results/ch2", workers=os.cpu_count(), progress=False)
groups = {f"zero_init_output={z}": hs for z, hs in study.group(runs, "model.zero_init_output").items()}
plots.curves(groups, ["val_corr_target", "val_rms_output", "val_probe_b", "val_common_share"],
             ["correlation with target", "output RMS", "probe weight b (target)", "common share"],
             logy=[False, True, False, False])

# %% tags=["remove-cell"]
table = study.summarise(runs, ["model.zero_init_output"],
                        ["val_corr_target", "val_abs_corr_target", "val_rms_output", "val_probe_a",
                         "val_probe_b", "val_probe_r2", "val_common_share", "val_swap_input", "val_swap_target"])
at_start = study.summarise(runs, ["model.zero_init_output"], ["val_corr_target"], epoch=0)
final_corr = float(table["val_abs_corr_target_mean"].max())  # mean per-clip |corr|: what the penalty sees
probe_ab_max = float(table[["val_probe_a_mean", "val_probe_b_mean"]].abs().max().max())
glue_all({"c4_final_corr": final_corr, "c4_first_corr_zero": float(at_start["val_corr_target_mean"].iloc[1]),
          "c4_final_rms": float(table["val_rms_output_mean"].min()), "c4_target_rms": cfg.rms,
          "c4_steps": runs[0].last["step"], "c4_first_steps": runs[0].records[0]["step"], "c4_probe_ab_max": probe_ab_max,
          "c4_cancel_pct": 100 * (1 - probe_ab_max / 0.5),
          "c4_common_min": float(table["val_common_share_mean"].min()),
          "c4_swap_max": float(table[["val_swap_input_mean", "val_swap_target_mean"]].max().max())})

# %%
table.set_index("model.zero_init_output").filter(like="mean").T.round(3)

# %% [markdown]
# After {glue:text}`c4_steps:.0f` optimizer steps the largest mean per-clip |correlation| with the
# target, over both starts, is {glue:text}`c4_final_corr:.3f`: the penalties win. From the
# zero-initialised start, which begins at the mix's $1/\sqrt2$, it has already fallen to
# {glue:text}`c4_first_corr_zero:.3f` after the first epoch ({glue:text}`c4_first_steps:.0f` steps). The output ends at RMS {glue:text}`c4_final_rms:.2f` or more against a target RMS of
# {glue:text}`c4_target_rms:.2f`. The leak probe says *how*: its weights on input and target fall
# from $\tfrac12$ to at most {glue:text}`c4_probe_ab_max:.3f` in magnitude, so the branch removes
# {glue:text}`c4_cancel_pct:.0f`% or more of the residual's input and target.
#
# ### What the trained output is made of
#
# Split the trained output of each run into three parts (`resmix.measure.diagnostics.decompose`): the
# probe's fit $aI + bT + c$ (what is left of the residual's mix), the waveform every clip shares
# (the across-clip mean of the remainder: the part that ignores the inputs), and the
# clip-specific rest.

# %%
parts = []
for h in runs:
    model = study.load_model(h.experiment, "_output/results/ch2")
    with torch.no_grad():
        out = model(xf, yf)[1]
    d = decompose(out, xf, yf)
    parts.append({"start": "zero init" if study.setting(h, "model.zero_init_output") else "default init",
                  "seed": study.setting(h, "train.seed"), "a": d.a, "b": d.b, "mix share": d.mix_share,
                  "common share": d.common_share, "clip-specific share": d.specific_share})
parts = pd.DataFrame(parts)
parts.groupby("start")[["a", "b", "mix share", "common share", "clip-specific share"]].mean().round(3)

# %% tags=["remove-cell"]
mech = parts.groupby("start")[["mix share", "common share", "clip-specific share"]].mean()
glue_all({"c4_mix_share_max": float(mech["mix share"].max()),
          "c4_common_share_min": float(mech["common share"].min()),
          "c4_specific_share_max": float(mech["clip-specific share"].max())})
cancels = probe_ab_max < 0.1  # the residual's 1/2 weights are (almost) gone: cancellation
drowns_in_common = float(mech["common share"].min()) > 0.5  # most power in one shared waveform
print({"cancels": cancels, "drowns_in_common": drowns_in_common})

# %% [markdown]
# ```{glue:md} c4_mechanism
# :format: myst
# ```

# %% tags=["remove-cell"]
if cancels and drowns_in_common:
    mechanism = ("The mechanism, read from these numbers: the branch **cancels** the residual (the mix "
                 "keeps at most {mix:.1%} of the output's power) **and** replaces it with one waveform that "
                 "every clip shares (at least {common:.0%} of the power). The trained leaky model largely "
                 "ignores its inputs.")
elif cancels:
    mechanism = ("The mechanism, read from these numbers: the branch **cancels** the residual (the mix "
                 "keeps at most {mix:.1%} of the output's power); what replaces it is clip-specific "
                 "(up to {specific:.0%} of the power) more than shared ({common:.0%} at least).")
else:
    mechanism = ("The mechanism, read from these numbers: the residual's mix survives (up to {mix:.0%} "
                 "of the power); the branch adds to it rather than cancelling it.")
glue("c4_mechanism", Markdown(mechanism.format(mix=float(mech["mix share"].max()),
                                      common=float(mech["common share"].min()),
                                      specific=float(mech["clip-specific share"].max()))), display=False)

# %% [markdown]
# (input-independent)=
# ### Why an output that ignores its inputs satisfies the penalties
#
# Nothing in the anti-correlation and novelty penalties asks the output to *use* its inputs.
# Take an output $w$ that is the same for every clip and independent of the target $y$. Its
# correlation with $y$ over $N$ samples is a sum of $N$ products divided by the norms, so it is
# close to Gaussian with mean 0 and, by Bartlett's formula for two independent stationary series
# with normalised autocorrelations $r_w$ and $r_y$,
#
# $$
# \operatorname{Var}\rho \approx \frac{1}{N}\sum_{k=-\infty}^{\infty} r_w(k)\, r_y(k) = \frac{1}{N_\text{eff}},
# \qquad \mathbb E|\rho| \approx \sqrt{\frac{2}{\pi N_\text{eff}}} .
# $$
#
# For white signals $N_\text{eff} = N$. For other signals $N_\text{eff}$ depends on how much the
# two spectra overlap: narrow, overlapping spectra give few effective samples; an output whose
# spectrum avoids the targets' gives many (and a smaller $|\rho|$). An output that ignores its
# inputs is at this level on held-out clips, and needs nothing more: the penalty is already of
# order $1/\sqrt{N_\text{eff}}$. The prediction (`resmix.measure.metrics.predicted_abs_correlation`, from each clip's own output and
# target) beside the measured mean $|\rho|$ per clip, both on held-out clips:

# %%
bartlett = study.summarise(runs, ["model.zero_init_output"],
                           ["val_abs_corr_target", "val_pred_abs_corr_target", "val_common_share"])
bartlett[["model.zero_init_output", "val_abs_corr_target_mean", "val_pred_abs_corr_target_mean",
          "val_common_share_mean"]].round(4)

# %% tags=["remove-cell"]
ratio_bartlett = (bartlett["val_abs_corr_target_mean"] / bartlett["val_pred_abs_corr_target_mean"])
glue_all({"bartlett_ratio_lo": float(ratio_bartlett.min()), "bartlett_ratio_hi": float(ratio_bartlett.max()),
          "bartlett_pred": float(bartlett["val_pred_abs_corr_target_mean"].mean()),
          "n_samples": cfg.n_samples, "white_pred": (2 / (np.pi * cfg.n_samples)) ** 0.5})
assert float(bartlett["val_pred_abs_corr_target_mean"].mean()) < (2 / (np.pi * cfg.n_samples)) ** 0.5, \
    "the text says the prediction lies below the white-signal value"
if ((ratio_bartlett > 0.5) & (ratio_bartlett < 2)).all():
    bartlett_reading = ("of the order of the prediction, within a factor of 2: on held-out clips the trained "
                        "outputs are about as correlated with their targets as outputs independent of them")
elif (ratio_bartlett <= 0.5).all():
    bartlett_reading = ("well below the prediction: the trained outputs are decorrelated from each held-out "
                        "target, which an output independent of the target could not be")
else:
    bartlett_reading = "above the prediction or mixed: the trained outputs still carry the target"
glue("bartlett_reading", bartlett_reading, display=False)

# %% [markdown]
# The measured $|\rho|$ is {glue:text}`bartlett_ratio_lo:.2f` to {glue:text}`bartlett_ratio_hi:.2f`
# times the prediction for an output independent of the target (about
# {glue:text}`bartlett_pred:.4f`, below the {glue:text}`white_pred:.4f` of white signals of
# $N$ = {glue:text}`n_samples` samples: the trained outputs' spectra overlap the targets' less than
# white noise does): {glue:text}`bartlett_reading`. An output that ignores its inputs reaches this
# level without adapting to any clip; going further needs either a spectrum that avoids the
# targets' or an output adapted to each clip. {ref}`Chapter 4 <ch-collapse>` shows the other
# way down when the correlation carries an $\varepsilon$: shrink the output.
#
# ## Trained the way the seed implies: penalties plus reconstruction
#
# The seed's model was not trained with penalties alone: its fix note says training "requires
# reconstruction loss > 0", so the leaky version most plausibly had one too. Add a
# reconstruction term to the penalties, waveform MSE or multi-resolution STFT (MR-STFT)
# {cite}`yamamoto2020parallel`, at a few weights. MSE to a target of RMS 0.1 is of order
# $10^{-2}$ while the penalties are of order 1, so MSE needs weights near 100 to weigh as much;
# MR-STFT is scale-free and of order 1. Does the correlation with the target stay near 0.7?

# %% mystnb={"image": {"alt": "Correlation with target, best lagged correlation and output level over optimizer steps for the leaky model trained with penalties plus MSE or MR-STFT reconstruction at several weights"}}
RECON = [("mse", w) for w in second.C4_MSE_WEIGHTS] + [("mrstft", 0.1), ("mrstft", 1.0)]
recon_grid = [e for kind, w in RECON for e in study.grid(
    base.with_(loss={"recon_kind": kind, "reconstruction": w}), {"model.residual": ["leaky", "none"]}, seeds=seeds)]
recon_runs = study.run_grid(recon_grid, "_output/results/ch2", workers=os.cpu_count(), progress=False)
by_setting = study.group(recon_runs, ["model.residual", "loss.recon_kind", "loss.reconstruction"])
plots.curves({f"{k} x {w:g}": by_setting[("leaky", k, w)] for k, w in RECON},
             ["val_corr_target", "val_lag_corr_target", "val_rms_ratio_db"],
             ["correlation with target", "best |corr| within ±10 ms", "output level re target (dB)"])

# %% [markdown]
# The control a reader should ask for: is it the *residual* that keeps the correlation, or the
# reconstruction term? The same losses train the fixed design too (same seeds). Both designs:

# %%
recon_table = study.summarise(recon_runs, ["loss.recon_kind", "loss.reconstruction", "model.residual"],
                              ["val_corr_target", "val_abs_corr_target", "val_lag_corr_target", "val_lag_corr_chance",
                               "val_lag_corr_target_lag",
                               "val_probe_b", "val_rms_ratio_db", "val_common_share"])
recon_table.filter(regex="loss|model|_mean").round(3)

# %% tags=["remove-cell"]
C4_HOLDS = second.C4_HOLDS  # fixed before the runs: "stays near 0.7" read as a mean correlation above 0.5
corr = {(r, k, w): float(v) for r, k, w, v in zip(recon_table["model.residual"], recon_table["loss.recon_kind"],
                                                  recon_table["loss.reconstruction"], recon_table["val_corr_target_mean"])}
abs_corr = {(r, k, w): float(v) for r, k, w, v in zip(recon_table["model.residual"], recon_table["loss.recon_kind"],
                                                      recon_table["loss.reconstruction"], recon_table["val_abs_corr_target_mean"])}
lag = {(r, k, w): (float(v), float(l), float(c)) for r, k, w, v, l, c in zip(
    recon_table["model.residual"], recon_table["loss.recon_kind"], recon_table["loss.reconstruction"],
    recon_table["val_lag_corr_target_mean"], recon_table["val_lag_corr_target_lag_mean"],
    recon_table["val_lag_corr_chance_mean"])}
holding = [(k, w) for k, w in RECON if corr[("leaky", k, w)] > C4_HOLDS]
residual_only = [(k, w) for k, w in holding if corr[("none", k, w)] <= C4_HOLDS]  # the residual makes the difference
# a hidden copy: zero-lag |corr| below 0.1 while the lagged one stands 0.2 above chance (resmix.criteria's margin)
ZERO_LAG_SMALL = 0.1  # the first book's "uncorrelated" bound, used by its remedy score
hidden = [(r, k, w) for (r, k, w), (v, _, c) in lag.items()
          if v > c + REMEDY.lag_excess_limit and abs_corr[(r, k, w)] < ZERO_LAG_SMALL]
glue_all({"lag_limit": REMEDY.lag_excess_limit, "zero_lag_small": ZERO_LAG_SMALL, "c4_n_holding": len(holding), "c4_n_recon": len(RECON), "c4_threshold": C4_HOLDS,
          "c4_holding": ", ".join(f"{k} x {w:g}" for k, w in holding) or "none",
          "c4_fixed_in_holding": ", ".join(f"{corr[('none', k, w)]:.2f}" for k, w in holding) or "-",
          "c4_n_hidden": len(hidden),
          "c4_hidden": "; ".join(f"{r}, {k} x {w:g}: zero-lag |corr| {abs_corr[(r, k, w)]:.3f}, best {lag[(r, k, w)][0]:.2f} "
                                 f"(chance {lag[(r, k, w)][2]:.2f}) at a median lag of {lag[(r, k, w)][1]:+.0f} samples"
                                 for r, k, w in hidden) or "none"})
if holding and not residual_only:
    c4_recon_reading = ("In every setting where the leaky design keeps its correlation, the fixed design, trained the "
                        "same way, keeps it too: the reconstruction term holds the output on the target, not the "
                        "residual. The residual adds a little on top (" + ", ".join(
                            f"{corr[('leaky', k, w)]:.2f} against {corr[('none', k, w)]:.2f} at {k} x {w:g}"
                            for k, w in holding) + ").")
elif residual_only:
    c4_recon_reading = ("In " + ", ".join(f"{k} x {w:g}" for k, w in residual_only) + " only the leaky design keeps "
                        "its correlation in these two seeds: there the residual may override the penalties.")
else:
    c4_recon_reading = "With none of these losses does the leaky design keep its correlation."
glue("c4_recon_reading", c4_recon_reading, display=False)

# %% [markdown]
# With a reconstruction term the leaky design keeps a correlation above the criterion
# (written before these runs: a mean above {glue:text}`c4_threshold`) in {glue:text}`c4_n_holding` of
# {glue:text}`c4_n_recon` settings ({glue:text}`c4_holding`); the fixed design, trained the same way,
# reaches {glue:text}`c4_fixed_in_holding` there. {glue:text}`c4_recon_reading` The control with the
# fixed design was added after the first runs showed where the correlation survives.
#
# **Copies at a lag.** {glue:text}`c4_n_hidden` of these settings produce an output whose
# zero-lag |correlation| with the target is below {glue:text}`zero_lag_small:g` while its best
# correlation within ±10 ms stands more than {glue:text}`lag_limit:g` above chance (the same search against another clip's target, which tonal
# clips win by luck to some degree): {glue:text}`c4_hidden`. The MR-STFT loss compares magnitude spectra, which a copy
# shifted by a few samples matches nearly exactly; the anti-correlation penalty and the seed's meter look
# only at lag 0 and miss it. (Against a stricter null, a phase-randomised copy of the target,
# which has its spectrum and none of its waveform, stands only a little above this chance level
# in {ref}`chapter 5's sanity table <ch-remedy>`, far less than these outputs.) `resmix.measure.metrics.lagged_correlation` is the check.
#
# **The decisive weight, with ten seed pairs.** The MSE grid runs from 1 to 100 on a log scale. The weight
# where the leaky design holds the correlation and the fixed design does not, if any (else where the two
# differ most), is chosen from the two seeds above (`resmix.registrations.second.c4_decisive_weight`: the choice is
# exploratory) and run again with chapter 4's ten seed pairs, both designs. C4 is *partly* there if the
# leaky design's mean correlation is above {glue:text}`c4_threshold` while the fixed design's is not, and the
# paired gap's 95% interval lies above 0 (`resmix.registrations.second.c4_verdict`); *refuted* otherwise.

# %%
C4_WEIGHT = second.c4_decisive_weight({(r, w): corr[(r, "mse", w)] for r in ("leaky", "none") for w in second.C4_MSE_WEIGHTS})
decisive = {r: first.replicate(base.with_(name=f"ch2-c4-{r}", model={"residual": r},
                                             loss={"recon_kind": "mse", "reconstruction": C4_WEIGHT}))
            for r in ("leaky", "none")}
decisive_runs = study.run_groups(decisive, "_output/results/ch2", workers=os.cpu_count(), progress=False)
c4_test = second.c4_verdict(decisive_runs["leaky"], decisive_runs["none"])
print(f"MSE x {C4_WEIGHT:g}, {len(decisive_runs['leaky'])} seed pairs: correlation with the target {c4_test.leaky:.3f} "
      f"(leaky) against {c4_test.fixed:.3f} (fixed); gap {c4_test.gap.mean:+.3f} "
      f"[{c4_test.gap.low:+.3f}, {c4_test.gap.high:+.3f}]; C4 there: {c4_test.verdict}")

# %% tags=["remove-cell"]
glue_all({"c4_weight": C4_WEIGHT, "c4_leaky": c4_test.leaky, "c4_fixed": c4_test.fixed, "c4_gap": c4_test.gap.mean,
          "c4_gap_lo": c4_test.gap.low, "c4_gap_hi": c4_test.gap.high, "c4_test_verdict": c4_test.verdict,
          "c4_pairs": len(decisive_runs["leaky"])})

# %% [markdown]
# At MSE × {glue:text}`c4_weight:g`, over {glue:text}`c4_pairs` seed pairs, the leaky design's mean
# correlation with the target is {glue:text}`c4_leaky:.3f` and the fixed design's {glue:text}`c4_fixed:.3f`
# (paired gap {glue:text}`c4_gap:+.3f`, 95% CI {glue:text}`c4_gap_lo:+.3f` to {glue:text}`c4_gap_hi:+.3f`):
# C4 at that weight is {glue:text}`c4_test_verdict`.
#
# Listen to the trained leaky model's output (seed 0, default start, penalties only):

# %%
trained = study.load_model(runs[0].experiment, "_output/results/ch2")
with torch.no_grad():
    out = unframe(trained(xf[:1], yf[:1])[1])[0]
players({"input": x_wave[0], "target": y_wave[0], "leaky model trained with penalties": out},
        cfg.sample_rate, "_output/02_algebra")

# %% [markdown]
# ## What we measured

# %% tags=["hide-input"]
c4_verdict = "supported" if final_corr > C4_HOLDS else c4_test.verdict
claims = [
    Claim("C2", "leaky stage 2 = 49.5% input + 49.5% target", "49.5% / 49.5%",
          f"exactly {a2} / {coeffs[1].b_target} (model error {model_err:.1e})",
          "partly" if a2 == sp.Rational(1, 2) else "refuted"),
    Claim("C3", "correlation with target 0.7+", "0.7+",
          f"{measured:.4f} measured, {predicted:.4f} predicted (zero learning); after training, leaky: "
          f"{final_corr:.3f} (penalties only), {min(corr[('leaky', k, w)] for k, w in RECON):.2f} to "
          f"{max(corr[('leaky', k, w)] for k, w in RECON):.2f} (with a reconstruction term)",
          "supported" if abs(measured - predicted) < 0.01 and abs(measured - 2 ** -0.5) < 0.02 else "refuted"),
    Claim("C4", "residual overrides anti-correlation and novelty penalties", "corr stays high",
          f"penalties only: |corr| <= {final_corr:.3f} (the branch cancels the residual); with a "
          f"reconstruction term the leaky design stays above {C4_HOLDS} in {len(holding)} of {len(RECON)} "
          f"settings, the fixed design in {sum(corr[('none', k, w)] > C4_HOLDS for k, w in RECON)}; at MSE x "
          f"{C4_WEIGHT:g}, 10 pairs: {c4_test.leaky:.2f} leaky vs {c4_test.fixed:.2f} fixed", c4_verdict),
]
claims_html(claims)

# %% tags=["remove-cell"]
glue("claims", claims_html(claims), display=False)  # for the introduction's findings table

# %% tags=["remove-cell"]
require(claims, {"C2": "partly", "C3": "supported", "C4": "refuted"})  # the introduction relies on these
assert final_corr < C4_HOLDS, "the text says the penalties alone win"
assert probe_ab_max < 0.25, "the introduction says the branch cancels the residual (probe weights fall towards 0)"

# %% [markdown]
# C2 is marked *partly*: the structure is right, the number is rounded; the exact mix is 50/50.
# C4 would be *partly* if the residual kept the correlation under some loss where the fixed
# design does not; it is *refuted* when the penalties alone cancel the residual and, wherever a
# reconstruction term keeps the correlation, it keeps it without the residual too.
