"""Figures for the book. Every function returns a matplotlib Figure and never trains.

One style for all (applied by ``_style``); axes carry units.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import io

from matplotlib import colormaps
import numpy as np
import torch
from matplotlib.figure import Figure

from .dynamics import initial_weight_rms, predicted_rms
from .history import History

COLORS = colormaps["tab10"].colors


class BookFigure(Figure):
    """A Figure that shows itself as a PNG in any notebook, whatever the matplotlib backend.

    The figures are made without pyplot, so no backend state decides whether a notebook
    shows them: a cell whose last expression is a figure displays it, once.
    """

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=100)
        return buf.getvalue()


def _style(fig: Figure, grid: bool = True) -> Figure:
    """The book's one style, applied to a finished figure.

    Applied to the finished axes (not through ``rc_context``, which touches pyplot's
    global state).
    """
    for ax in fig.axes:
        if grid and not ax.images:
            ax.grid(True, alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
        ax.title.set_fontsize(10)
        if ax.get_legend():
            ax.get_legend().set_frame_on(False)
    fig.tight_layout()
    return fig


def _np(x) -> np.ndarray:
    return x.detach().float().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def waveforms(signals: Mapping[str, torch.Tensor], sample_rate: int, title: str = "") -> Figure:
    """One row per named mono waveform ``[N]``, shared axes, time in seconds."""
    fig = BookFigure(figsize=(8, 1.4 * len(signals) + 0.4))
    axes = fig.subplots(len(signals), 1, sharex=True, sharey=True, squeeze=False)
    for i, (ax, (name, w)) in enumerate(zip(axes[:, 0], signals.items())):
        w = _np(w)
        ax.plot(np.arange(len(w)) / sample_rate, w, lw=0.6, color=COLORS[i % 10])
        ax.set_ylabel("amplitude")
        ax.set_title(name, loc="left")
    axes[-1, 0].set_xlabel("time (s)")
    fig.suptitle(title)
    return _style(fig)


def spectrograms(signals: Mapping[str, torch.Tensor], sample_rate: int, n_fft: int = 256) -> Figure:
    """Log-power spectrograms (dB) of named mono waveforms ``[N]``, side by side."""
    fig = BookFigure(figsize=(3.2 * len(signals), 2.8))
    axes = fig.subplots(1, len(signals), sharey=True, squeeze=False)
    for ax, (name, w) in zip(axes[0], signals.items()):
        w = torch.as_tensor(_np(w))
        s = torch.stft(w, n_fft, n_fft // 4, window=torch.hann_window(n_fft), return_complex=True)
        db = 10 * torch.log10(s.abs().pow(2) + 1e-10).numpy()
        ax.imshow(db, origin="lower", aspect="auto", cmap="magma", vmin=db.max() - 80, vmax=db.max(),
                  extent=(0, len(w) / sample_rate, 0, sample_rate / 2000))
        ax.set_title(name, loc="left")
        ax.set_xlabel("time (s)")
    axes[0, 0].set_ylabel("frequency (kHz)")
    return _style(fig, grid=False)


def curves(groups: Mapping[str, Sequence[History]], keys: Sequence[str], ylabels: Sequence[str],
           logy: Sequence[bool] | None = None) -> Figure:
    """Metrics over optimizer steps: one panel per key, one line per group (mean over its runs, min-max band)."""
    logy = logy or [False] * len(keys)
    fig = BookFigure(figsize=(4 * len(keys), 3))
    axes = fig.subplots(1, len(keys), squeeze=False)
    for ax, key, ylabel, log in zip(axes[0], keys, ylabels, logy):
        for i, (label, hs) in enumerate(groups.items()):
            ys = np.array([h.series(key) for h in hs])
            ep = np.array(hs[0].series("step"))
            ax.plot(ep, ys.mean(0), color=COLORS[i % 10], label=label)
            if len(hs) > 1:
                ax.fill_between(ep, ys.min(0), ys.max(0), color=COLORS[i % 10], alpha=0.2, lw=0)
        ax.set_xlabel("optimizer step")
        ax.set_ylabel(ylabel)
        if log:
            ax.set_yscale("log")
    axes[0, 0].legend(fontsize=8)
    return _style(fig)


def theory_vs_measured(x: Sequence[float], predicted: Sequence[float], measured: Sequence[float],
                       xlabel: str, ylabel: str = "correlation with target") -> Figure:
    """A predicted curve and measured points over one swept variable."""
    fig = BookFigure(figsize=(5, 3.2))
    ax = fig.subplots()
    ax.plot(x, predicted, color=COLORS[0], label="theory")
    ax.plot(x, measured, "o", color=COLORS[1], label="measured (model, zero learning)")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend()
    return _style(fig)


def level_vs_correlation(table, label_col: str, x: str = "val_rms_ratio_db", y: str = "val_corr_target") -> Figure:
    """RMS ratio (dB) against the absolute correlation with the target, one point per row with seed spread as error bars."""
    fig = BookFigure(figsize=(6, 4))
    ax = fig.subplots()
    for i, (label, sub) in enumerate(table.groupby(label_col, sort=False)):
        ax.errorbar(sub[f"{x}_mean"], sub[f"{y}_mean"].abs(), xerr=sub[f"{x}_std"], yerr=sub[f"{y}_std"],
                    fmt="o-", color=COLORS[i % 10], label=str(label), capsize=2, ms=4)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel("output level relative to target (dB)")
    ax.set_ylabel("|correlation with target|")
    ax.legend(fontsize=8)
    return _style(fig)


def weight_rms_vs_prediction(groups: Mapping[str, History], key: str = "weight_rms_matrices") -> Figure:
    """Measured weight RMS over optimizer steps (solid) beside AdamW's prediction (dashed), one colour per run.

    The prediction is :func:`~resmix.dynamics.predicted_rms` from the run's initial size
    (:func:`~resmix.dynamics.initial_weight_rms`); runs without weight decay get none.
    """
    fig = BookFigure(figsize=(6, 3.6))
    ax = fig.subplots()
    for i, (label, h) in enumerate(groups.items()):
        t = h.experiment.train
        steps = np.array([0.0] + h.series("step"))
        rms0 = initial_weight_rms(h.experiment.model, t.seed).matrices
        ax.plot(steps, [rms0] + h.series(key), color=COLORS[i % 10], label=label)
        if t.weight_decay > 0:
            ax.plot(steps, _np(predicted_rms(rms0, t.lr, t.weight_decay, torch.as_tensor(steps))), "--",
                    color=COLORS[i % 10], lw=1)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("weight RMS (matrices)")
    ax.set_yscale("log")
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("solid: measured; dashed: sqrt(lr / 2wd) equilibrium prediction", loc="left", fontsize=8)
    return _style(fig)


def sweep(x: Sequence[float], lines: Mapping[str, Sequence[float]], xlabel: str, ylabel: str,
          logx: bool = True, hlines: Sequence[float] = ()) -> Figure:
    """One line per named series over a swept variable (e.g. final level against epsilon)."""
    fig = BookFigure(figsize=(6, 3.6))
    ax = fig.subplots()
    for i, (label, ys) in enumerate(lines.items()):
        ax.plot(x, ys, "o-", color=COLORS[i % 10], label=label, ms=4)
    for y in hlines:
        ax.axhline(y, color="k", lw=0.8, ls=":")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
    return _style(fig)
