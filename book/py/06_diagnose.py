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
# (ch-diagnose)=
# # 6. Diagnose your own model
#
# The leak in this study was found by listening and by a correlation meter. `resmix` turns
# the chapters into tests you can run on any model that maps `(input, target)` tensors
# `[B, D, T]` to an output of the same shape.
#
# **Checklist**
#
# 1. *Zero-weights test*: zero every parameter. Whatever the model still outputs flows through
#    parameter-free paths; if it is a mix of the inputs, the architecture leaks
#    ({ref}`chapter 1 <ch-leaky>`).
# 2. *Leak probe*: fit the output as $a\,\text{input} + b\,\text{target} + c$; $R^2$ near 1 says
#    "a mix, not a transformation" ({ref}`chapter 2 <ch-algebra>`).
# 3. *Level meter*: the output's RMS against the target's; watch it per epoch, since both
#    loud drift and quiet collapse hide behind a correlation near 0 ({ref}`chapter 4 <ch-collapse>`).
# 4. *Correlation meters*: with the target and with the input; expect $1/\sqrt2$ from a 50/50 mix
#    of independent equal-level signals.
# 5. *Ablate the residual path*: the same model with and without it, same inputs.
# 6. *Which road is the level on?* The ε ratio, the offset share, the LayerNorm gains and
#    $\eta\lambda t$ say whether an ε pull, weight decay, both or neither is moving the output's
#    level ({ref}`chapter 4 <ch-collapse>`).

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

import pandas as pd
import torch
from torch import nn

from resmix import study
from resmix.book import plots
from resmix.book.claims import announce, glue_all, optimizer_steps
from resmix.book.listen import players
from resmix.config import get_profile
from resmix.data import WavPairFolder, frame, held_out, make_pairs, save_wav
from resmix.measure.diagnostics import DECAYED_GAIN_RMS, diagnose, level_forces
from resmix.models import TwoStageModel
from resmix.registrations import second

exp = get_profile()
print(announce(exp))  # the profile, its device (the chapters that train print their expected time too)
cfg = exp.data
torch.manual_seed(0);

# %% [markdown]
# ## A model of your own
#
# Replace this cell with your model. This one hides a shortcut: a quarter of the input and
# three quarters of the target added to a learned convolution.

# %%
class MyModel(nn.Module):
    def __init__(self, dim: int = cfg.frame_size):
        super().__init__()
        self.net = nn.Sequential(nn.Conv1d(2 * dim, 64, 3, padding=1), nn.GELU(), nn.Conv1d(64, dim, 3, padding=1))

    def forward(self, input, target):  # [B, D, T] each
        return 0.1 * self.net(torch.cat([input, target], dim=1)) + 0.25 * input + 0.75 * target


# %% [markdown]
# ## Your own audio
#
# `WavPairFolder` reads `input/*.wav` and `target/*.wav` with matching names, checks sample
# rates, channels and lengths, and stacks them as `[n, N]`. Here the folder is made from
# generated clips; point it at yours.

# %%
folder = "_output/06_diagnose/pairs"
xs, ys = make_pairs(8, cfg, seed=99)
for i in range(len(xs)):
    save_wav(f"{folder}/input/clip{i}.wav", xs[i], cfg.sample_rate)
    save_wav(f"{folder}/target/clip{i}.wav", ys[i], cfg.sample_rate)
pairs = WavPairFolder(folder, sample_rate=cfg.sample_rate)
x_wave, y_wave = pairs.tensors()  # [n, N] each
x, y = frame(x_wave, cfg.frame_size), frame(y_wave, cfg.frame_size)  # [n, D, T]
print(f"{len(pairs)} pairs from {folder}, framed to {list(x.shape)}")

# %%
d = diagnose(MyModel(), x, y, sample_rate=cfg.sample_rate)
print(d.report)
pd.DataFrame({"trained output": d.probe, "zero-weights output": d.zero_probe}).round(4)

# %% tags=["remove-cell"]
glue_all({"my_a": d.zero_probe["a"], "my_b": d.zero_probe["b"], "my_r2": d.zero_probe["r2"],
          "my_share": d.residual_share, "my_common": d.measured["common_share"],
          "my_swap_in": d.measured["swap_input"], "my_swap_tgt": d.measured["swap_target"],
          "my_lag": d.measured["lag_corr_target"]})

# %% [markdown]
# With every weight zeroed the model still outputs $a$ = {glue:text}`my_a:.3f` of the input and
# $b$ = {glue:text}`my_b:.3f` of the target ($R^2$ = {glue:text}`my_r2:.4f`): the hidden shortcut,
# found without reading the code. The parameter-free part carries {glue:text}`my_share:.2f` of
# the output's level.
#
# Three more questions `diagnose` answers (`d.measured` holds every number of
# `resmix.measure.readout.measure`, the function the training loop records each epoch):
#
# - *Does the output depend on its inputs at all?* The **common share**, the fraction of the
#   output's power in the one waveform all clips share, is {glue:text}`my_common:.3f` here (1: the
#   output ignores its inputs; about 1/B for independent clips). The **swap sensitivity**, the
#   relative change of the output when each clip's input (target) is replaced by another clip's,
#   is {glue:text}`my_swap_in:.2f` ({glue:text}`my_swap_tgt:.2f`); `d.ignores_inputs` flags a
#   common share over 0.9.
# - *Is there a copy hiding at a small lag?* The largest |normalised cross-correlation| with the
#   target within ±10 ms is {glue:text}`my_lag:.2f`; a zero-lag correlation alone misses a copy
#   delayed by a few samples.

# %% tags=["hide-input"]
assert d.leaks and abs(d.zero_probe["a"] - 0.25) < 1e-3 and abs(d.zero_probe["b"] - 0.75) < 1e-3

# %% [markdown]
# ## Ablating the residual path
#
# The same diagnostics on the study's two designs (untrained, same weights for the learned
# branches, since they are built from the same seed):

# %%
rows = {}
for residual in ("leaky", "none"):
    torch.manual_seed(0)
    r = diagnose(TwoStageModel(replace(exp.model, residual=residual)), x, y, sample_rate=cfg.sample_rate)
    rows[residual] = {"leaks": r.leaks, "zero-weights a": r.zero_probe["a"], "zero-weights b": r.zero_probe["b"],
                      "zero-weights R²": r.zero_probe["r2"], "corr with target": r.corr_target,
                      "level (dB)": r.rms_ratio_db, "common share": r.measured["common_share"]}
ablation = pd.DataFrame(rows).T
ablation

# %% tags=["remove-cell"]
assert bool(ablation.loc["leaky", "leaks"]) and not bool(ablation.loc["none", "leaks"])

# %% [markdown]
# ## Which road is a run on? Reading a training log
#
# To the seed's author, whose output went quiet around epoch 21: four numbers, computed from a model,
# its held-out clips and its optimizer settings, say which force is moving the level
# (`resmix.measure.diagnostics.level_forces`): the **ε ratio** $\varepsilon/(s_o s_t)$ at the output's current
# level (the pull $\varepsilon/(s+\varepsilon)$ is at least one half where it is at least 1), the
# **offset share** $1 - \mathrm{std}^2/\mathrm{RMS}^2$ (what an ε pull leaves behind), the **RMS of the
# LayerNorm gains** (1 at initialisation; what decay on every parameter pulls down), and
# $\eta\lambda t$, the number of AdamW's time constants elapsed. The decay road is read off the model
# as well as the settings: at least one time constant, decay on the gains, *and* gains measured below
# {glue:text}`decayed_gain:g` (a threshold chosen after seeing chapter 4's runs, exploratory). Here for
# chapter 4's seed's setting and its two roads (model seed 0; the runs are loaded from chapter 4's store,
# or trained if missing); the ε road's runs were built with ε at ten times $s_o s_t$, so reading it back
# checks the meter, not the road:

# %%
roads = second.collapse_configs2(exp)
road_runs = dict(zip(roads, study.run_grid(list(roads.values()), "_output/results/protocol", progress=False)))
xv, yv = (frame(w, cfg.frame_size) for w in held_out(cfg))
forces = {name: level_forces(study.load_model(h.experiment, "_output/results/protocol"), xv, yv, h.experiment.loss,
                             h.experiment.train, optimizer_steps(h.experiment)) for name, h in road_runs.items()}
pd.DataFrame({n: f.as_dict() for n, f in forces.items()}).T.drop(columns="reading")

# %% tags=["remove-cell"]
glue_all({f"road_{i}": f.reading for i, f in enumerate(forces.values())} | {"decayed_gain": DECAYED_GAIN_RMS})
assert [f.road for f in forces.values()] == ["neither", "epsilon", "decay"], [f.road for f in forces.values()]

# %% [markdown]
# The seed's setting: {glue:text}`road_0`. The ε road: {glue:text}`road_1`. The decay road:
# {glue:text}`road_2`. The same numbers are in every training log `resmix` writes
# (`History.records[i]`: `val_eps_ratio`, `val_offset_share`, `weight_rms_vectors` for the biases and
# LayerNorm parameters, and `step`), so a run can be read epoch by epoch:

# %% mystnb={"image": {"alt": "Epsilon ratio, offset share, RMS of the LayerNorm and bias parameters, and output level over optimizer steps for the seed's setting and its two roads"}}
plots.curves({n: [h] for n, h in road_runs.items()}, ["val_eps_ratio", "val_offset_share", "weight_rms_vectors", "val_rms_ratio_db"],
             ["ε ratio ε/(s_o s_t)", "offset share", "RMS of biases and norms", "level re target (dB)"],
             logy=[True, False, False, False])

# %% [markdown]
# Listen to one of your pairs and your model's output:

# %% tags=["hide-input"]
from resmix.data import unframe  # noqa: E402

with torch.no_grad():
    out = unframe(MyModel()(x[:1], y[:1]))[0]
players({"input": x_wave[0], "target": y_wave[0], "MyModel output": out}, cfg.sample_rate, "_output/06_diagnose")

# %% mystnb={"image": {"alt": "Waveforms of an input, a target and the example model's output"}}
plots.waveforms({"input": x_wave[0], "target": y_wave[0], "MyModel output": out}, cfg.sample_rate)
