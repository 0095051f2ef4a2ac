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
# (ch-leaky)=
# # 1. The leaky architecture
#
# The first version of the model added a residual average after each stage
# (the seed's design note; see the {ref}`introduction <intro>`):
#
# $$
# \text{output}_1 = f_1(I, T) + \tfrac12 (I + T), \qquad
# \text{output}_2 = f_2(I, \text{output}_1, T) + \tfrac13 (I + \text{output}_1 + T),
# $$
#
# where $I$ is the input, $T$ the target and $f_k$ the learned branch of stage $k$
# (an input projection, positions, a pre-norm transformer encoder and an output projection;
# {cite}`vaswani2017attention`). This chapter builds that model from `resmix`, runs it on
# synthetic audio and tests the seed's first claim (C1): *with zero learning, stage 1's output
# is 50% input and 50% target*.

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
from dataclasses import replace

import torch
from myst_nb import glue

from resmix.book import plots
from resmix.book.claims import Claim, announce, claims_html, glue_all, require
from resmix.book.listen import players
from resmix.config import get_profile
from resmix.data import frame, held_out, unframe
from resmix.measure import metrics
from resmix.models import TwoStageModel

exp = get_profile()
print(announce(exp))  # the profile, its device (the chapters that train print their expected time too)
cfg = exp.data
torch.manual_seed(exp.train.seed)
x_wave, y_wave = held_out(cfg)  # held-out clips, [B, N]
x, y = frame(x_wave, cfg.frame_size), frame(y_wave, cfg.frame_size)  # [B, D, T]
print(f"profile {exp.profile}: {x.shape[0]} clips of {cfg.clip_seconds} s at {cfg.sample_rate} Hz, "
      f"framed to [B, D, T] = {list(x.shape)}")

# %% [markdown]
# ## The data
#
# Inputs are slow melodies of harmonic notes; targets are a busier rhythm of FM plucks and
# noise hits in a lower register. The two are drawn independently, and every clip is
# normalised to the same RMS. Listen to one pair:

# %% tags=["hide-input"]
out_dir = "_output/01_leaky"
players({"input": x_wave[0], "target": y_wave[0]}, cfg.sample_rate, out_dir)

# %% mystnb={"image": {"alt": "Spectrograms of one input clip (harmonic notes) and one target clip (FM plucks and noise hits)"}}
plots.spectrograms({"input": x_wave[0], "target": y_wave[0]}, cfg.sample_rate)

# %% [markdown]
# ## Zero learning: the output is the mix
#
# `zero_init_output=True` starts each stage's output projection at zero, so both learned
# branches output exactly zero: the seed's "output with zero learning".

# %%
leaky0 = TwoStageModel(replace(exp.model, residual="leaky", zero_init_output=True))
with torch.no_grad():
    p0 = leaky0.parts(x, y)
err1 = float((p0.output1 - 0.5 * (x + y)).abs().max())
err2 = float((p0.output2 - 0.5 * (x + y)).abs().max())
probe0 = metrics.leak_probe(p0.output1, x, y).means()
corr0 = float(metrics.pearson(p0.output2, y).mean())
print(metrics.level_report(p0.output2, x, y))

# %% tags=["remove-cell"]
glue_all({"c1_err1": err1, "c1_err2": err2, "c1_a": probe0["a"], "c1_b": probe0["b"], "c1_r2": probe0["r2"],
          "c1_corr": corr0})

# %% [markdown]
# Stage 1's output differs from $\tfrac12(I+T)$ by at most {glue:text}`c1_err1:.1e`, and
# stage 2's by {glue:text}`c1_err2:.1e`: float rounding. A least-squares fit of the output as
# $aI + bT + c$ (the *leak probe*) gives $a$ = {glue:text}`c1_a:.4f`, $b$ = {glue:text}`c1_b:.4f`
# with $R^2$ = {glue:text}`c1_r2:.6f`. The output's correlation with the target is
# {glue:text}`c1_corr:.3f`; {ref}`chapter 2 <ch-algebra>` derives that number.

# %% [markdown]
# ```{admonition} Try it: the residual's weights
# :class: tip
# Change `w_input` and `w_target` and rerun the cell (a second on a CPU). For an input and a target that
# are independent and equally loud, the mix $w_I I + w_T T$ correlates $w_T / \sqrt{w_I^2 + w_T^2}$ with the
# target, whatever the model learns on top: 0.71 at the seed's ½ and ½, 0.32 at 0.75 and 0.25, 1 with no
# input. The correlation the seed saw is the shortcut's weights.
# ```

# %% tags=["try-it"]
w_input, w_target = 0.5, 0.5  # stage 1's shortcut; try 0.75, 0.25 (or 0.0, 1.0)
mix = w_input * x + w_target * y  # [B, D, T]: the zero-learning output with these weights
measured, predicted = float(metrics.pearson(mix, y).mean()), w_target / (w_input**2 + w_target**2) ** 0.5
print(f"correlation with the target: measured {measured:.3f}, predicted {predicted:.3f}")

# %% tags=["remove-cell"]
for w_i, w_t in ((0.5, 0.5), (0.75, 0.25), (0.0, 1.0)):  # the outcomes the box states
    got = float(metrics.pearson(w_i * x + w_t * y, y).mean())
    assert abs(got - w_t / (w_i**2 + w_t**2) ** 0.5) < 0.05, ("the Try-it box's formula", w_i, w_t, got)

# %% [markdown]
# ## Default initialisation: the "small learned part" is not small
#
# The seed writes the output as "50% input + 50% target + *small* transformation". Whether
# the learned part is small depends on how the output projection starts. With PyTorch's
# default initialisation it is not:

# %%
leaky = TwoStageModel(replace(exp.model, residual="leaky"))
with torch.no_grad():
    p = leaky.parts(x, y)
branch_rms = float(metrics.rms(p.branch2).mean())
resid_rms = float(metrics.rms(p.output2 - p.branch2).mean())
corr_init = float(metrics.pearson(p.output2, y).mean())
print(metrics.level_report(p.output2, x, y))

# %% tags=["remove-cell"]
glue_all({"init_branch_rms": branch_rms, "init_resid_rms": resid_rms, "init_ratio": branch_rms / resid_rms,
          "init_corr": corr_init})

# %% [markdown]
# At default initialisation stage 2's learned branch has RMS {glue:text}`init_branch_rms:.3f`
# against {glue:text}`init_resid_rms:.3f` for the residual average, {glue:text}`init_ratio:.1f`
# times louder, and the output's correlation with the target is only {glue:text}`init_corr:.3f`.
# The 50/50 mix is what the leaky design *falls back to* when the branches are small
# (at zero initialisation, or after training shrinks them); it is not what an untrained network
# with default initialisation outputs. {ref}`Chapter 2 <ch-algebra>` shows what training does.
#
# Listen to the input, the target, and each stage's output of both untrained models:

# %% tags=["hide-input"]
players({"input": x_wave[0], "target": y_wave[0],
         "stage 1 and stage 2 output, zero learning (both the 50/50 mix)": unframe(p0.output2)[0],
         "stage 1 output, default initialisation": unframe(p.output1)[0],
         "stage 2 output, default initialisation": unframe(p.output2)[0]}, cfg.sample_rate, out_dir)

# %% mystnb={"image": {"alt": "Waveforms of the input, the target, the zero-learning output (their average) and the default-initialised output"}}
plots.waveforms({"input": x_wave[0], "target": y_wave[0],
                 "output, zero learning": unframe(p0.output2)[0],
                 "output, default init": unframe(p.output2)[0]}, cfg.sample_rate)

# %% [markdown]
# ## What we measured

# %% tags=["hide-input"]
c1_ok = err1 < 1e-6 and err2 < 1e-6 and probe0["r2"] > 0.999999
claims = [
    Claim("C1", "leaky stage 1 = 50% input + 50% target + small learned part", "50% / 50%",
          f"zero learning: a = {probe0['a']:.4f}, b = {probe0['b']:.4f}, max error {err1:.1e}; "
          f"default init: branch {branch_rms / resid_rms:.1f}x the residual",
          "supported" if c1_ok else "refuted"),
]
claims_html(claims)

# %% tags=["remove-cell"]
require(claims, {"C1": "supported"})  # the text above relies on this verdict
assert branch_rms > resid_rms, "the text says the default-init branch is louder than the residual"
glue("claims", claims_html(claims), display=False)  # for the introduction's findings table
