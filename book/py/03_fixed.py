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
    source = os.environ.get("RESMIX_INSTALL_SOURCE", "git+https://github.com/resmix/resmix@v0.1.0")
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", f"resmix[book] @ {source}"])
    importlib.invalidate_caches()

# %%
from dataclasses import replace

import numpy as np
import torch
from myst_nb import glue

from resmix import metrics, plots, study
from resmix.config import get_profile
from resmix.data import frame, make_pairs, unframe
from resmix.listen import players
from resmix.models import TwoStageModel
from resmix.report import Claim, claims_html, require

exp = get_profile()
cfg = exp.data
x_wave, y_wave = make_pairs(cfg.n_val, cfg, seed=cfg.seed + 1)  # [B, N]
xf, yf = frame(x_wave, cfg.frame_size), frame(y_wave, cfg.frame_size)  # [B, D, T]

# %% [markdown]
# ## Zero learning
#
# With zero-initialised output projections the fixed design outputs exactly zero; with
# PyTorch's default initialisation it outputs whatever the untrained network computes:

# %%
torch.manual_seed(exp.train.seed)
zero = TwoStageModel(replace(exp.model, residual="none", zero_init_output=True))
default = TwoStageModel(replace(exp.model, residual="none"))
with torch.no_grad():
    out_zero = zero(xf, yf)[1]
    out_default = default(xf, yf)[1]
zero_max = float(out_zero.abs().max())
rms_default = float(metrics.rms(out_default).mean())
corr_default = float(metrics.pearson(out_default, yf).mean())
flat_default = float(metrics.spectral_flatness(unframe(out_default)).mean())
glue("c5_zero_max", zero_max, display=False)
glue("c5_rms_default", rms_default, display=False)
glue("c5_rms_ratio_db", float(metrics.rms_ratio_db(out_default, yf).mean()), display=False)
glue("c5_corr_default", corr_default, display=False)
glue("c5_flat_default", flat_default, display=False)
print(metrics.level_report(out_default, xf, yf, label="Output"))

# %% [markdown]
# The zero-initialised model's largest output sample is {glue:text}`c5_zero_max:.1f`. The
# default-initialised one outputs RMS {glue:text}`c5_rms_default:.3f`
# ({glue:text}`c5_rms_ratio_db:+.1f` dB relative to the target), correlated
# {glue:text}`c5_corr_default:+.3f` with the target, with spectral flatness
# {glue:text}`c5_flat_default:.2f` (0 is a pure tone, 1 white noise). Listen:

# %%
players({"target": y_wave[0], "fixed design, default init (untrained)": unframe(out_default)[0]},
        cfg.sample_rate, "_output/03_fixed")

# %% mystnb={"image": {"alt": "Spectrograms of the target and of the untrained fixed design's output"}}
plots.spectrograms({"target": y_wave[0], "untrained fixed design": unframe(out_default)[0]}, cfg.sample_rate)

# %% [markdown]
# ## Is it harder to train?
#
# Give both designs the same task, a plain reconstruction of the target (waveform MSE, weight 1,
# no penalties), the same data, budget and seeds, and watch the held-out loss and each stage's
# gradient norm. This is a task the leaky design is built to shortcut: its residual already
# carries half the target.

# %% mystnb={"image": {"alt": "Held-out MSE and per-stage gradient norms over epochs for the leaky and fixed designs trained on reconstruction"}}
base = exp.with_(name="ch3", loss={"anti_correlation": 0.0, "novelty": 0.0,
                                   "reconstruction": 1.0, "recon_kind": "mse"})
runs = study.run_grid(study.grid(base, {"model.residual": ["leaky", "none"]}, seeds=[0, 1, 2]),
                      "_output/results/ch3", workers=2, progress=False)
groups = {r: [h for h in runs if study.setting(h, "model.residual") == r] for r in ("leaky", "none")}
plots.curves(groups, ["val_loss_reconstruction", "grad_norm_stage1", "grad_norm_stage2"],
             ["held-out MSE", "stage 1 gradient norm", "stage 2 gradient norm"], logy=[True, True, True])

# %%
table = study.summarise(runs, ["model.residual"], ["val_loss_reconstruction", "val_corr_target",
                                                   "grad_norm_stage1", "grad_norm_stage2"])
final = {r: [h.last["val_loss_reconstruction"] for h in groups[r]] for r in groups}
first = {r: float(np.mean([h.records[0]["val_loss_reconstruction"] for h in groups[r]])) for r in groups}
ratio = float(np.mean(final["none"]) / np.mean(final["leaky"]))
every_seed_worse = all(n > l for n, l in zip(sorted(final["none"]), sorted(final["leaky"])))
glue("c6_ratio", ratio, display=False)
glue("c6_leaky_final", float(np.mean(final["leaky"])), display=False)
glue("c6_none_final", float(np.mean(final["none"])), display=False)
glue("c6_leaky_first", first["leaky"], display=False)
glue("c6_none_first", first["none"], display=False)
glue("c6_epochs", exp.train.epochs, display=False)
table.round(5)

# %% [markdown]
# After one epoch the held-out MSE is {glue:text}`c6_leaky_first:.4f` for the leaky design and
# {glue:text}`c6_none_first:.4f` for the fixed one; after {glue:text}`c6_epochs` epochs it is
# {glue:text}`c6_leaky_final:.5f` against {glue:text}`c6_none_final:.5f`, a ratio of
# {glue:text}`c6_ratio:.2f` (fixed over leaky, mean of three seeds). The claims table below
# turns this into a verdict.
#
# Listen to both trained reconstructions (seed 0):

# %%
listen = {"target": y_wave[0]}
for r in ("leaky", "none"):
    model = study.load_model(study.grid(base, {"model.residual": [r]}, seeds=[0])[0], "_output/results/ch3")
    with torch.no_grad():
        listen[f"{r}: reconstruction after training"] = unframe(model(xf[:1], yf[:1])[1])[0]
players(listen, cfg.sample_rate, "_output/03_fixed")

# %% [markdown]
# ## What we measured

# %%
c6_verdict = "supported" if ratio > 1.5 and every_seed_worse else ("refuted" if ratio < 1 else "partly")
claims = [
    Claim("C5", "no residuals + zero learning = random/zero/constant output", "random/zero/constant",
          f"zero init: max |out| = {zero_max:.1f}; default init: RMS {rms_default:.3f}, "
          f"corr {corr_default:+.3f}", "supported" if zero_max == 0 and abs(corr_default) < 0.1 else "refuted"),
    Claim("C6", "training without residuals is harder", "harder",
          f"held-out MSE after {exp.train.epochs} epochs: fixed/leaky = {ratio:.2f}", c6_verdict),
]
require(claims, {"C5": "supported", "C6": c6_verdict})
assert (c6_verdict == "supported") == (ratio > 1.5), "verdict and ratio disagree"
glue("claims", claims_html(claims), display=False)  # for the introduction's findings table
claims_html(claims)
