# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py//py:percent
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
    source = os.environ.get("RESMIX_INSTALL_SOURCE", "git+https://github.com/resmix/resmix@v0.1.0")
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", f"resmix[book] @ {source}"])
    importlib.invalidate_caches()

# %%
from dataclasses import replace

import ipywidgets as widgets
import numpy as np
import pandas as pd
import sympy as sp
import torch
from myst_nb import glue

from resmix import algebra, metrics, plots, study
from resmix.config import get_profile
from resmix.data import frame, make_pairs, mix_correlated, unframe
from resmix.listen import players
from resmix.models import TwoStageModel
from resmix.report import Claim, claims_html, require

exp = get_profile()
cfg = exp.data
x_wave, y_wave = make_pairs(cfg.n_val, cfg, seed=cfg.seed + 1)  # [B, N]
zero = TwoStageModel(replace(exp.model, residual="leaky", zero_init_output=True))

# %% [markdown]
# ## Stage by stage, exactly
#
# Write stage $k$'s zero-learning output as $a_k I + b_k T$. Stage 1 adds $\tfrac12(I+T)$,
# so $a_1 = b_1 = \tfrac12$. Stage 2 adds $\tfrac13(I + \text{output}_1 + T)$, so
# $a_2 = \tfrac13(1 + a_1)$ and likewise for $b$; a chain of $N$ such stages iterates the
# same map. `resmix.algebra` does this in exact rational arithmetic:

# %%
coeffs = algebra.leak_coefficients(4)
seed_start = pd.DataFrame({"stage": [c.stage for c in coeffs],
                           "a (input)": [str(c.a_input) for c in coeffs],
                           "b (target)": [str(c.b_target) for c in coeffs]}).set_index("stage")
a_fix, b_fix = algebra.fixed_point()
a2 = coeffs[1].a_input
rounded = sp.Rational(33, 100) + sp.Rational(33, 100) * sp.Rational(1, 2)  # the seed's 33% + 16.5%
glue("c2_a2", str(a2), display=False)
glue("c2_rounded_pct", float(rounded * 100), display=False)
glue("c2_fixed", str(a_fix), display=False)
seed_start

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
assert all(g2 / g1 == sp.Rational(1, 3) for g1, g2 in zip(gaps, gaps[1:]))
pd.DataFrame({"stage": [c.stage for c in other], "a (input)": [str(c.a_input) for c in other],
              "b (target)": [str(c.b_target) for c in other],
              "a - 1/2": [str(g) for g in gaps]}).set_index("stage")

# %% [markdown]
# The model agrees with the algebra. With zero learning, the largest difference between
# stage $k$'s output and $a_k I + b_k T$ over all clips is:

# %%
with torch.no_grad():
    p = zero.parts(frame(x_wave, cfg.frame_size), frame(y_wave, cfg.frame_size))
xf, yf = frame(x_wave, cfg.frame_size), frame(y_wave, cfg.frame_size)
model_err = max(float((out - (float(c.a_input) * xf + float(c.b_target) * yf)).abs().max())
                for out, c in ((p.output1, coeffs[0]), (p.output2, coeffs[1])))
glue("c2_model_err", model_err, display=False)
assert model_err < 1e-6
print(f"max |output_k - (a_k I + b_k T)| = {model_err:.1e}")

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
glue("c3_predicted", predicted, display=False)
glue("c3_measured", measured, display=False)
glue("c3_rho_xy", rho_xy, display=False)
glue("c3_sqrt2", 2 ** -0.5, display=False)
print(f"input-target correlation {rho_xy:+.4f}; predicted {predicted:.4f}; measured {measured:.4f}")

# %% [markdown]
# The measured correlation of the zero-learning output with the target is
# {glue:text}`c3_measured:.4f` against a prediction of {glue:text}`c3_predicted:.4f` (the
# clips' own input-target correlation, {glue:text}`c3_rho_xy:+.4f`, moves it slightly off
# $1/\sqrt2$ = {glue:text}`c3_sqrt2:.4f`). The seed's "0.7+" is this number.
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
glue("c3_sweep_err", sweep_max_err, display=False)
assert sweep_max_err < 0.02, "theory and measurement disagree"
sweep.round(4)

# %% [markdown]
# Across the sweep theory and measurement differ by at most {glue:text}`c3_sweep_err:.4f`
# (per-clip correlations are averaged, the formula is applied to average levels). A louder
# input lowers the correlation with the target; an input correlated with the target raises it.
#
# ### Explore it
#
# Move the sliders: `w` is the target's weight in the mix $(1-w)\,I + w\,T$ (the seed's
# residual is $w=\tfrac12$), `r` the input-target correlation. The widget needs a running
# kernel; the figure after it shows the same sweep for a static page.

# %%
def show(w=0.5, r=0.0):
    y_r = mix_correlated(x_wave, y_wave, r) if r else y_wave
    mix = (1 - w) * x_wave + w * y_r
    pred = algebra.predicted_correlation(1 - w, w, 1.0, 1.0, float(metrics.pearson(x_wave, y_r).mean()))
    print(f"predicted {pred:.3f}   measured {float(metrics.pearson(mix, y_r).mean()):.3f}")


widgets.interact(show, w=widgets.FloatSlider(value=0.5, min=0, max=1, step=0.05),
                 r=widgets.FloatSlider(value=0.0, min=-0.9, max=0.9, step=0.1));

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
# (`resmix.metrics.leak_probe`). $R^2$ near 1 with $a, b$ near $\tfrac12$ says the output *is*
# a mix of its inputs; $R^2$ near 0 says whatever the model outputs, it is not a linear
# copy. On the zero-learning model:

# %%
probe = metrics.leak_probe(p.output2, xf, yf).means()
glue("probe_r2", probe["r2"], display=False)
pd.Series(probe).round(4)

# %% [markdown]
# ## Training with the penalties: does the residual override them?
#
# The seed argues that with residuals, "even with anti-correlation penalties and novelty loss,
# the model could output something highly correlated with the target", because the residual
# adds half the target whatever the branch does (C4). That is true of the residual, but the
# branch is trained: it can cancel the residual ($f_2 \approx -\tfrac12(I+T)$) or drown it
# (grow much louder). Train the leaky model with anti-correlation and novelty penalties and no
# reconstruction loss, from both starts (default and zero-initialised output projections),
# over three seeds:

# %% mystnb={"image": {"alt": "Correlation with target, output RMS and leak-probe R squared over epochs for the leaky model trained with penalties, from default and zero-initialised outputs"}}
base = exp.with_(name="ch2", model={"residual": "leaky"},
                 loss={"anti_correlation": 1.0, "novelty": 1.0, "reconstruction": 0.0})
runs = study.run_grid(study.grid(base, {"model.zero_init_output": [False, True]}, seeds=[0, 1, 2]),
                      "_output/results/ch2", workers=2, progress=False)
groups = {f"zero_init_output={z}": [h for h in runs if study.setting(h, "model.zero_init_output") == z]
          for z in (False, True)}
plots.curves(groups, ["val_corr_target", "val_rms_output", "val_probe_r2"],
             ["correlation with target", "output RMS", "leak probe R²"], logy=[False, True, False])

# %%
table = study.summarise(runs, ["model.zero_init_output"],
                        ["val_corr_target", "val_rms_output", "val_probe_r2", "val_probe_b"])
first = {z: float(np.mean([h.records[0]["val_corr_target"] for h in hs])) for z, hs in
         zip((False, True), groups.values())}
final_corr = float(np.abs(table["val_corr_target_mean"]).max())
final_rms = float(table["val_rms_output_mean"].min())
glue("c4_final_corr", final_corr, display=False)
glue("c4_first_corr_zero", first[True], display=False)
glue("c4_final_rms", final_rms, display=False)
glue("c4_target_rms", cfg.rms, display=False)
glue("c4_epochs", exp.train.epochs, display=False)
table.round(4)

# %% [markdown]
# After {glue:text}`c4_epochs` epochs the largest mean |correlation| with the target over both
# starts is {glue:text}`c4_final_corr:.3f`: the penalties win. From the zero-initialised start the
# correlation is still {glue:text}`c4_first_corr_zero:.3f` after the first epoch, and then falls
# as the branch grows: the final output RMS is at least {glue:text}`c4_final_rms:.2f` against a
# target RMS of {glue:text}`c4_target_rms:.2f`, and the leak probe's $R^2$ falls towards 0. The
# branch does not cancel the residual; it *drowns* it (a shortcut the optimiser finds,
# {cite}`geirhos2020shortcut`). So the residual did not override the penalties here. What the
# seed saw, an output still correlated 0.7 with its target, would need something that keeps
# the branch small, such as a reconstruction loss or an output bounded in level; with nothing of
# the kind the scale-invariant penalties are satisfied by loudness.
#
# Listen to the trained leaky model's output (seed 0, default start):

# %%
trained = study.load_model(study.grid(base, {"model.zero_init_output": [False]}, seeds=[0])[0],
                           "_output/results/ch2")
with torch.no_grad():
    out = unframe(trained(xf[:1], yf[:1])[1])[0]
players({"input": x_wave[0], "target": y_wave[0], "leaky model trained with penalties": out},
        cfg.sample_rate, "_output/02_algebra")

# %% [markdown]
# ## What we measured

# %%
claims = [
    Claim("C2", "leaky stage 2 = 49.5% input + 49.5% target", "49.5% / 49.5%",
          f"exactly {a2} / {coeffs[1].b_target} (model error {model_err:.1e})",
          "partly" if a2 == sp.Rational(1, 2) else "refuted"),
    Claim("C3", "correlation with target 0.7+", "0.7+",
          f"{measured:.4f} measured, {predicted:.4f} predicted (zero learning)",
          "supported" if abs(measured - predicted) < 0.01 and measured > 0.7 else "refuted"),
    Claim("C4", "residual overrides anti-correlation and novelty penalties", "corr stays high",
          f"after training |corr| <= {final_corr:.3f}; branch drowns the residual",
          "refuted" if final_corr < 0.1 else "supported"),
]
require(claims, {"C2": "partly", "C3": "supported", "C4": "refuted"})
glue("claims", claims_html(claims), display=False)  # for the introduction's findings table
claims_html(claims)

# %% [markdown]
# C2 is marked *partly*: the structure is right, the number is rounded; the exact mix is 50/50.
