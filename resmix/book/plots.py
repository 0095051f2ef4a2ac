"""Figures for the book. Every function returns a matplotlib Figure (or a slider of figures) and never trains.

One style for all, made for the page the figures live on: the book's text column is about
700 px wide on a desktop and about 360 px on a phone, and a figure is shown at the column's
width. So every figure is :data:`WIDTH` inches wide (drawn at 150 px per inch, shown at
about 100), at most two panels sit side by side (four panels make a 2 x 2 grid), the font
sizes of :data:`STYLE` are chosen for that width, long axis labels wrap to fit their panel,
and legends with many entries go below the panels. The background is transparent: on a light
page the figure sits on it, and in the theme's dark mode the theme gives images a white card.
:func:`clipped_texts` is the check that no label is cut.
"""
from __future__ import annotations

import base64
import contextlib
import html
import io
import textwrap
from typing import Mapping, Sequence

import matplotlib
import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from resmix.measure.dynamics import initial_weight_rms, predicted_rms
from resmix.training.history import History

COLORS = colormaps["tab10"].colors
#: Figure width in inches: shown at the column's width, so 1 pt of text is about 1.2 px on a desktop, 0.6 on a phone.
WIDTH = 6.0
PANEL_HEIGHT = 2.6  # inches per row of panels in a grid; a single panel gets SINGLE_HEIGHT
SINGLE_HEIGHT = 3.4
DPI = 150  # pixels per inch of the PNG: 900 px wide, sharp on a high-density screen, never upscaled
FRAME_DPI = 110  # a slider's frames: many PNGs inside one page, so a little less sharp than a figure
MANY_ENTRIES = 4  # a legend with more entries than this goes below the panels, not over the data

#: The book's rcParams, applied by :func:`style` when a figure is made and when it is drawn.
STYLE = {
    # sizes for a figure shown at 6 inches -> ~690 px (desktop) or ~360 px (phone): ticks are 9 px on a phone, 17 on a desktop
    "font.size": 12, "axes.titlesize": 12, "axes.labelsize": 12, "xtick.labelsize": 11, "ytick.labelsize": 11,
    "legend.fontsize": 10.5, "figure.titlesize": 13, "legend.frameon": False,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3,
    "axes.titlelocation": "left", "lines.linewidth": 1.6, "lines.markersize": 5,
    "figure.dpi": 100, "savefig.dpi": DPI, "figure.constrained_layout.use": True,
    # transparent: the page's background shows through; pydata's dark mode puts images on white
    "figure.facecolor": "none", "axes.facecolor": "none", "savefig.facecolor": "none", "savefig.transparent": True,
}


@contextlib.contextmanager
def style():
    """The book's figure style as a temporary ``rcParams`` context (restored on exit)."""
    with matplotlib.rc_context(STYLE):
        yield


class BookFigure(Figure):
    """A Figure that shows itself as a PNG in any notebook, whatever the matplotlib backend, in :data:`STYLE`.

    The figures are made without pyplot, so no backend state decides whether a notebook
    shows them: a cell whose last expression is a figure displays it, once. Drawing runs
    inside :func:`style`, so tick labels made lazily at draw time get the book's sizes too.
    """

    def draw(self, renderer):
        """Draw as matplotlib does, inside :func:`style`."""
        with style():
            return super().draw(renderer)

    def _repr_png_(self) -> bytes:
        return png_bytes(self)


def png_bytes(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes, in the book's style."""
    buf = io.BytesIO()
    with style():
        fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _figure(n_panels: int = 1, height: float | None = None, **subplots) -> tuple[Figure, list]:
    """A BookFigure of ``n_panels`` axes, at most two per row; unused grid cells are removed."""
    ncols = 1 if n_panels == 1 else 2
    nrows = -(-n_panels // ncols)
    with style():
        fig = BookFigure(figsize=(WIDTH, height or (SINGLE_HEIGHT if n_panels == 1 else PANEL_HEIGHT * nrows + 0.4)))
        axes = list(fig.subplots(nrows, ncols, squeeze=False, **subplots).flat)
    for ax in axes[n_panels:]:
        ax.remove()
    for ax in axes[max(0, n_panels - ncols):n_panels]:  # the lowest panel of each column shows its x ticks
        ax.xaxis.set_tick_params(labelbottom=True)
    return fig, axes[:n_panels]


def _wrap(text: str, chars: int) -> str:
    return "\n".join(textwrap.wrap(text, max(chars, 8), break_on_hyphens=False)) if len(text) > chars else text


def _fit_labels(fig: Figure) -> None:
    """Wrap every axis label and title that is longer than its side of the panel."""
    fig.draw_without_rendering()
    for ax in fig.axes:
        box = ax.get_window_extent()
        for text, room in ((ax.yaxis.label, box.height), (ax.xaxis.label, box.width), (ax.title, box.width)):
            s = text.get_text()
            size = text.get_window_extent()
            length = max(size.width, size.height) if text is ax.yaxis.label else size.width
            if s and "\n" not in s and length > room:
                text.set_text(_wrap(s, int(len(s) * room / length * 0.95)))


def _legend(fig: Figure, axes: Sequence, where=None) -> None:
    """One legend: on the first panel when short, below the panels when it has many entries."""
    handles, labels = axes[0].get_legend_handles_labels()
    if not handles:
        return
    if len(handles) <= MANY_ENTRIES and len(axes) == 1:
        (where or axes[0]).legend()
    else:
        fig.legend(handles, labels, loc="outside lower center", ncols=_legend_columns(labels))


def _legend_columns(labels: Sequence[str]) -> int:
    """As many legend columns (1-3) as fit the figure's width at the legend's font size."""
    per_char = 0.55 * STYLE["legend.fontsize"] / 72  # inches, an average character
    width = max(map(len, labels)) * per_char + 0.6  # the line sample and the gap
    return max(1, min(3, int(WIDTH // width), len(labels)))


def _style(fig: Figure, grid: bool = True) -> Figure:
    """Finish a figure in the book's style: grid (not on images), no top/right spines, labels that fit."""
    for ax in fig.axes:
        if grid and not ax.images:
            ax.grid(True, alpha=STYLE["grid.alpha"])
        else:
            ax.grid(False)
        ax.spines[["top", "right"]].set_visible(False)
        if ax.get_legend():
            ax.get_legend().set_frame_on(False)
        if len({round(a.get_position().x0, 2) for a in fig.axes}) > 1 and ax.get_xscale() == "linear":
            ax.xaxis.set_major_locator(MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]))  # half-width panels: fewer ticks
    fig.set_layout_engine("constrained")
    _fit_labels(fig)
    return fig


def clipped_texts(fig: Figure) -> list[str]:
    """What a reader cannot read: the drawn texts that reach outside the figure, and y-labels longer than their panel.

    Each entry names the text (or, for tick labels, the panel's y-label) that is cut.
    """
    canvas = FigureCanvasAgg(fig)  # what savefig draws with: real text extents
    canvas.draw()
    renderer = canvas.get_renderer()
    page = fig.bbox

    def outside(box) -> bool:
        return box.x0 < page.x0 - 1 or box.x1 > page.x1 + 1 or box.y0 < page.y0 - 1 or box.y1 > page.y1 + 1

    out = []
    for ax in fig.axes:  # tick labels, axis labels, title and legend of each panel, as drawn
        for text in [ax.xaxis.label, ax.yaxis.label, ax.title]:
            if text.get_text() and outside(text.get_window_extent(renderer)):
                out.append(text.get_text())
        ticks = ax.xaxis.get_tightbbox(renderer), ax.yaxis.get_tightbbox(renderer)
        if any(b is not None and outside(b) for b in ticks):
            out.append(f"tick labels of the panel {ax.get_ylabel() or ax.get_title()!r}")
        if ax.get_legend() and outside(ax.get_legend().get_window_extent(renderer)):
            out.append(f"legend of the panel {ax.get_ylabel()!r}")
        if ax.yaxis.label.get_text() and ax.yaxis.label.get_window_extent(renderer).height > ax.bbox.height + 1:
            out.append(ax.yaxis.label.get_text())
    for artist in fig.texts + fig.legends + [t for t in (fig._suptitle, fig._supxlabel, fig._supylabel) if t]:
        if outside(artist.get_window_extent(renderer)):
            out.append(getattr(artist, "get_text", lambda: "a figure legend")())
    return out


def _np(x) -> np.ndarray:
    return x.detach().float().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def waveforms(signals: Mapping[str, torch.Tensor], sample_rate: int, title: str = "") -> Figure:
    """One row per named mono waveform ``[N]``, shared axes, time in seconds."""
    with style():
        fig = BookFigure(figsize=(WIDTH, 1.25 * len(signals) + 0.6))
        axes = fig.subplots(len(signals), 1, sharex=True, sharey=True, squeeze=False)[:, 0]
        for i, (ax, (name, w)) in enumerate(zip(axes, signals.items())):
            w = _np(w)
            ax.plot(np.arange(len(w)) / sample_rate, w, lw=0.6, color=COLORS[i % 10])
            ax.set_title(name)
        fig.supylabel("amplitude", fontsize=STYLE["axes.labelsize"])
        axes[-1].set_xlabel("time (s)")
        if title:
            fig.suptitle(title)
    return _style(fig)


def spectrograms(signals: Mapping[str, torch.Tensor], sample_rate: int, n_fft: int = 256) -> Figure:
    """Log-power spectrograms (dB) of named mono waveforms ``[N]``, two per row."""
    fig, axes = _figure(len(signals), height=PANEL_HEIGHT * -(-len(signals) // 2) + 0.3 if len(signals) > 1 else 3.0,
                        sharex=True, sharey=True)
    with style():
        for i, (ax, (name, w)) in enumerate(zip(axes, signals.items())):
            w = torch.as_tensor(_np(w))
            s = torch.stft(w, n_fft, n_fft // 4, window=torch.hann_window(n_fft), return_complex=True)
            db = 10 * torch.log10(s.abs().pow(2) + 1e-10).numpy()
            ax.imshow(db, origin="lower", aspect="auto", cmap="magma", vmin=db.max() - 80, vmax=db.max(),
                      extent=(0, len(w) / sample_rate, 0, sample_rate / 2000))
            ax.set_title(name)
            if i % 2 == 0:
                ax.set_ylabel("frequency (kHz)")
            if i >= len(axes) - 2 or len(axes) == 1:
                ax.set_xlabel("time (s)")
    return _style(fig, grid=False)


def curves(groups: Mapping[str, Sequence[History]], keys: Sequence[str], ylabels: Sequence[str],
           logy: Sequence[bool] | None = None) -> Figure:
    """Metrics over optimizer steps: one panel per key (two per row), one line per group (mean over its runs, min-max band).

    ``fig.axes[i]`` is the panel of ``keys[i]``, so a caller can add reference lines to it.
    """
    logy = logy or [False] * len(keys)
    fig, axes = _figure(len(keys), sharex=True)
    with style():
        for n, (ax, key, ylabel, log) in enumerate(zip(axes, keys, ylabels, logy)):
            for i, (label, hs) in enumerate(groups.items()):
                ys = np.array([h.series(key) for h in hs])
                ep = np.array(hs[0].series("step"))
                ax.plot(ep, ys.mean(0), color=COLORS[i % 10], label=label)
                if len(hs) > 1:
                    ax.fill_between(ep, ys.min(0), ys.max(0), color=COLORS[i % 10], alpha=0.2, lw=0)
            if n >= len(axes) - 2 or len(axes) == 1:
                ax.set_xlabel("optimizer step")
            ax.set_ylabel(ylabel)
            if log:
                ax.set_yscale("log")
        if len(axes) > 1 or len(groups) > MANY_ENTRIES:
            fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center",
                       ncols=_legend_columns(list(groups)))
        else:
            axes[0].legend()
    return _style(fig)


def level_panels(panels: Mapping[str, Mapping[str, Sequence[History]]], key: str = "val_rms_ratio_db",
                 ylabel: str = "level re target (dB)", band: tuple[float, float] | None = (-6.0, 6.0)) -> Figure:
    """One metric over optimizer steps, one panel per setting (``{title: {label: runs}}``), one line per
    label (mean over its runs, min-max band); ``band``: dashed lines at a reference range (the usable level)."""
    rows = -(-len(panels) // 2)
    fig, axes = _figure(len(panels), height=PANEL_HEIGHT * rows + 1.0, sharex=True)  # room for the titles
    with style():
        for n, (ax, (title, groups)) in enumerate(zip(axes, panels.items())):
            for i, (label, hs) in enumerate(groups.items()):
                ys = np.array([h.series(key) for h in hs])
                ep = np.array(hs[0].series("step"))
                ax.plot(ep, ys.mean(0), color=COLORS[i % 10], label=label)
                if len(hs) > 1:
                    ax.fill_between(ep, ys.min(0), ys.max(0), color=COLORS[i % 10], alpha=0.2, lw=0)
            steps = np.array(next(iter(groups.values()))[0].series("step"))
            for y in band or ():  # drawn as data over the run's steps (axhline beside a title clipped the ticks)
                ax.plot(steps[[0, -1]], [y, y], color="0.6", lw=0.8, ls="--", zorder=0)
            ax.set_title(title, loc="left")
            if n >= len(axes) - 2 or len(axes) == 1:
                ax.set_xlabel("optimizer step")
            ax.set_ylabel(ylabel)
        first = next(iter(panels.values()))
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=_legend_columns(list(first)))
    return _style(fig)


def theory_vs_measured(x: Sequence[float], predicted: Sequence[float], measured: Sequence[float],
                       xlabel: str, ylabel: str = "correlation with target") -> Figure:
    """A predicted curve and measured points over one swept variable."""
    fig, (ax,) = _figure(1)
    with style():
        ax.plot(x, predicted, color=COLORS[0], label="theory")
        ax.plot(x, measured, "o", color=COLORS[1], label="measured")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend()
    return _style(fig)


def level_vs_correlation(table, label_col: str, x: str = "val_rms_ratio_db", y: str = "val_corr_target") -> Figure:
    """RMS ratio (dB) against the absolute correlation with the target, one point per row with seed spread as error bars."""
    fig, (ax,) = _figure(1)
    with style():
        for i, (label, sub) in enumerate(table.groupby(label_col, sort=False)):
            ax.errorbar(sub[f"{x}_mean"], sub[f"{y}_mean"].abs(), xerr=sub[f"{x}_std"], yerr=sub[f"{y}_std"],
                        fmt="o-", color=COLORS[i % 10], label=str(label), capsize=2, ms=4)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_xlabel("output level relative to target (dB)")
        ax.set_ylabel("|correlation with target|")
        _legend(fig, [ax])
    return _style(fig)


def weight_rms_vs_prediction(groups: Mapping[str, History], key: str = "weight_rms_matrices") -> Figure:
    """Measured weight RMS over optimizer steps (solid) beside AdamW's prediction (dashed), one colour per run.

    The prediction is :func:`~resmix.measure.dynamics.predicted_rms` from the run's initial size
    (:func:`~resmix.measure.dynamics.initial_weight_rms`); runs without weight decay get none.
    """
    fig, (ax,) = _figure(1, height=SINGLE_HEIGHT + 0.8)
    with style():
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
        ax.set_title("solid: measured; dashed: sqrt(lr / 2wd) equilibrium prediction", fontsize=STYLE["legend.fontsize"])
        _legend(fig, [ax])
    return _style(fig)


def sweep(x: Sequence[float], lines: Mapping[str, Sequence[float]], xlabel: str, ylabel: str,
          logx: bool = True, hlines: Sequence[float] = ()) -> Figure:
    """One line per named series over a swept variable (e.g. final level against epsilon)."""
    fig, (ax,) = _figure(1, height=SINGLE_HEIGHT + (0.7 if len(lines) > MANY_ENTRIES else 0))
    with style():
        for i, (label, ys) in enumerate(lines.items()):
            ax.plot(x, ys, "o-", color=COLORS[i % 10], label=label, ms=4)
        for y in hlines:
            ax.axhline(y, color="k", lw=0.8, ls=":")
        if logx:
            ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        _legend(fig, [ax])
    return _style(fig)


def level_vs_time_constants(table, hlines: Sequence[float] = ()) -> Figure:
    """Final output level against ``lr x weight decay x steps``, one line per (decay target, learning rate).

    ``table`` has the columns of :func:`resmix.measure.dynamics.prediction_rows` plus ``level_db``
    (rows without weight decay are left out: their product is 0).
    """
    fig, (ax,) = _figure(1)
    with style():
        for decay, sub in table[table["weight_decay"] > 0].groupby("decay", sort=False):
            for j, (lr, s2) in enumerate(sub.groupby("lr")):
                ax.plot(s2["lr_wd_steps"], s2["level_db"], "o-" if decay == "all" else "s--", color=COLORS[j],
                        label=f"lr {lr:g}, decay {decay}", ms=4)
        for y, ls in zip(hlines, ("-", ":", "--")):
            ax.axhline(y, color="k", lw=0.8, ls=ls)
        ax.set_xscale("log")
        ax.set_xlabel("lr x weight decay x steps (time constants elapsed)")
        ax.set_ylabel("final output level re target (dB)")
        _legend(fig, [ax])
    return _style(fig)


class Frames:
    """A figure with a slider: precomputed frames, one shown at a time, switched by an HTML range input.

    It needs no kernel, no widget library and no network: the frames are PNGs inside the page
    and the slider is a few lines of inline JavaScript. Outside a browser (a PDF, a terminal)
    the starting frame is what shows.
    """

    def __init__(self, figures: Mapping[str, Figure], label: str, start: int = 0, alt: str = "a figure",
                 dpi: int = FRAME_DPI):
        if not figures:
            raise ValueError("Frames needs at least one figure; got none")
        if not 0 <= start < len(figures):
            raise ValueError(f"start must index one of the {len(figures)} frames; got {start}")
        self.values = list(figures)
        self.label, self.start, self.alt = label, start, alt
        self.pngs = [png_bytes(f, dpi) for f in figures.values()]

    def _repr_html_(self) -> str:
        hidden = ' style="display:none"'
        imgs = "".join(
            f'<img src="data:image/png;base64,{base64.b64encode(p).decode()}" '
            f'alt="{html.escape(self.alt)}, {html.escape(self.label)} = {html.escape(v)}" data-value="{html.escape(v)}"'
            f'{"" if i == self.start else hidden}>'
            for i, (v, p) in enumerate(zip(self.values, self.pngs)))
        js = ("const f=this.closest('figure');f.querySelectorAll('img').forEach((m,i)=>"
              "{m.style.display=i==this.value?'':'none'});"
              "f.querySelector('output').textContent=f.querySelectorAll('img')[this.value].dataset.value;")
        return (f'<figure class="resmix-frames">{imgs}<figcaption><label>{html.escape(self.label)} '
                f'<input type="range" min="0" max="{len(self.values) - 1}" step="1" value="{self.start}" '
                f'oninput="{js}" aria-label="{html.escape(self.label)}"> '
                f'<output>{html.escape(self.values[self.start])}</output></label></figcaption></figure>')

    def _repr_png_(self) -> bytes:
        return self.pngs[self.start]


def correlation_explorer(weights: Sequence[float], correlations: Sequence[float], predicted, measured,
                         xlabel: str = "target weight w in (1-w) I + w T", start: float = 0.0) -> Frames:
    """Theory and measurement of ``corr((1-w) I + w T, T)`` over ``w``, one frame per input-target correlation.

    Args:
        weights: the target weights ``w``, ``[W]``.
        correlations: the input-target correlations ``r``, one frame each, ``[R]``.
        predicted, measured: ``[R, W]`` (e.g. from :func:`resmix.measure.algebra.mix_sweep`).
        start: the ``r`` shown first (the nearest one).
    """
    predicted, measured = np.asarray(predicted), np.asarray(measured)
    if predicted.shape != (len(correlations), len(weights)) or measured.shape != predicted.shape:
        raise ValueError(f"predicted and measured must be [R, W] = [{len(correlations)}, {len(weights)}]; "
                         f"got {list(predicted.shape)} and {list(measured.shape)}")
    figures = {}
    for r, p, m in zip(correlations, predicted, measured):
        fig, (ax,) = _figure(1, height=3.2)
        with style():
            ax.plot(weights, p, color=COLORS[0], label="theory")
            ax.plot(weights, m, "o", color=COLORS[1], label="measured on the held-out clips")
            ax.axvline(0.5, color="grey", lw=0.8, ls="--")
            ax.set_ylim(-1.05, 1.05)
            ax.set_xlabel(xlabel)
            ax.set_ylabel("correlation with target")
            ax.set_title(f"r = {r:+.1f}; at w = 1/2: theory {np.interp(0.5, weights, p):.3f}, "
                         f"measured {np.interp(0.5, weights, m):.3f}")
            ax.legend(loc="lower right")
        figures[f"{r:+.1f}"] = _style(fig)
    first = int(np.argmin(np.abs(np.asarray(correlations) - start)))
    return Frames(figures, "input-target correlation r", first,
                  alt="Correlation with the target against the target weight w: theory curve and measured points")
