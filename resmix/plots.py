"""Figures for the book. Every function returns a matplotlib Figure and never trains.

One style for all (``STYLE``); axes carry units.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg") if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline") else None
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from .train import History

STYLE = {"figure.dpi": 100, "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
         "axes.spines.right": False, "font.size": 10, "axes.titlesize": 10, "legend.frameon": False}
COLORS = plt.get_cmap("tab10").colors


def _np(x) -> np.ndarray:
    return x.detach().float().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def waveforms(signals: Mapping[str, torch.Tensor], sample_rate: int, title: str = "") -> Figure:
    """One row per named mono waveform ``[N]``, shared axes, time in seconds."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(len(signals), 1, figsize=(8, 1.4 * len(signals) + 0.4), sharex=True, sharey=True,
                                 squeeze=False)
        for i, (ax, (name, w)) in enumerate(zip(axes[:, 0], signals.items())):
            w = _np(w)
            ax.plot(np.arange(len(w)) / sample_rate, w, lw=0.6, color=COLORS[i % 10])
            ax.set_ylabel("amplitude")
            ax.set_title(name, loc="left")
        axes[-1, 0].set_xlabel("time (s)")
        fig.suptitle(title)
        fig.tight_layout()
    return fig


def spectrograms(signals: Mapping[str, torch.Tensor], sample_rate: int, n_fft: int = 256) -> Figure:
    """Log-power spectrograms (dB) of named mono waveforms ``[N]``, side by side."""
    with plt.rc_context(STYLE | {"axes.grid": False}):
        fig, axes = plt.subplots(1, len(signals), figsize=(3.2 * len(signals), 2.8), sharey=True, squeeze=False)
        for ax, (name, w) in zip(axes[0], signals.items()):
            w = torch.as_tensor(_np(w))
            s = torch.stft(w, n_fft, n_fft // 4, window=torch.hann_window(n_fft), return_complex=True)
            db = 10 * torch.log10(s.abs().pow(2) + 1e-10).numpy()
            ax.imshow(db, origin="lower", aspect="auto", cmap="magma", vmin=db.max() - 80, vmax=db.max(),
                      extent=(0, len(w) / sample_rate, 0, sample_rate / 2000))
            ax.set_title(name, loc="left")
            ax.set_xlabel("time (s)")
        axes[0, 0].set_ylabel("frequency (kHz)")
        fig.tight_layout()
    return fig


def curves(groups: Mapping[str, Sequence[History]], keys: Sequence[str], ylabels: Sequence[str],
           logy: Sequence[bool] | None = None) -> Figure:
    """Metrics over epochs: one panel per key, one line per group (mean over its runs, min-max band)."""
    logy = logy or [False] * len(keys)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3), squeeze=False)
        for ax, key, ylabel, log in zip(axes[0], keys, ylabels, logy):
            for i, (label, hs) in enumerate(groups.items()):
                ys = np.array([h.series(key) for h in hs])
                ep = np.array(hs[0].series("epoch"))
                ax.plot(ep, ys.mean(0), color=COLORS[i % 10], label=label)
                if len(hs) > 1:
                    ax.fill_between(ep, ys.min(0), ys.max(0), color=COLORS[i % 10], alpha=0.2, lw=0)
            ax.set_xlabel("epoch")
            ax.set_ylabel(ylabel)
            if log:
                ax.set_yscale("log")
        axes[0, 0].legend(fontsize=8)
        fig.tight_layout()
    return fig


def theory_vs_measured(x: Sequence[float], predicted: Sequence[float], measured: Sequence[float],
                       xlabel: str, ylabel: str = "correlation with target") -> Figure:
    """A predicted curve and measured points over one swept variable."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(5, 3.2))
        ax.plot(x, predicted, color=COLORS[0], label="theory")
        ax.plot(x, measured, "o", color=COLORS[1], label="measured (model, zero learning)")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend()
        fig.tight_layout()
    return fig


def level_vs_correlation(table, label_col: str, x: str = "val_rms_ratio_db", y: str = "val_corr_target") -> Figure:
    """RMS ratio (dB) against the absolute correlation with the target, one point per row with seed spread as error bars."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6, 4))
        for i, (label, sub) in enumerate(table.groupby(label_col, sort=False)):
            ax.errorbar(sub[f"{x}_mean"], sub[f"{y}_mean"].abs(), xerr=sub[f"{x}_std"], yerr=sub[f"{y}_std"],
                        fmt="o-", color=COLORS[i % 10], label=str(label), capsize=2, ms=4)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_xlabel("output level relative to target (dB)")
        ax.set_ylabel("|correlation with target|")
        ax.legend(fontsize=8)
        fig.tight_layout()
    return fig
