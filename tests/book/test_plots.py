"""resmix.book.plots: figures for the book's column (layout, sizes, labels that fit) and the kernel-free slider."""
import io
import re

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.image import imread

from resmix.book import plots
from resmix.config import quick
from resmix.measure import algebra
from resmix.training.history import History

LONG = "common share (input-independent power)"  # the label issue 19 found cut


def history(seed: int = 0, epochs: int = 4, decay: float = 0.0) -> History:
    exp = quick().with_(train={"seed": seed, "weight_decay": decay})
    rng = np.random.default_rng(seed)
    keys = ("val_rms_ratio_db", "val_common_share", "val_corr_target", "val_loss", "weight_rms_matrices")
    return History(exp, [{"epoch": e + 1, "step": 32.0 * (e + 1)} | {k: float(rng.random()) for k in keys}
                         for e in range(epochs)])


def groups(n: int = 3):
    return {f"configuration number {i}": [history(i), history(i + 10)] for i in range(n)}


def png_size(fig) -> tuple[int, int, np.ndarray]:
    img = imread(io.BytesIO(fig._repr_png_()))
    return img.shape[1], img.shape[0], img


def grid_shape(fig) -> tuple[int, int]:
    """(rows, columns) of the panels, read from where they are drawn."""
    boxes = [ax.get_position() for ax in fig.axes]
    return len({round(b.y0, 2) for b in boxes}), len({round(b.x0, 2) for b in boxes})


def every_figure():
    wave = torch.sin(torch.arange(2048) / 7.0)
    table = pd.DataFrame({"name": ["a", "a", "b", "b"], "val_rms_ratio_db_mean": [0, 1, 2, 3],
                          "val_rms_ratio_db_std": [0.1] * 4, "val_corr_target_mean": [0.1, 0.2, 0.3, 0.4],
                          "val_corr_target_std": [0.01] * 4})
    dyn = pd.DataFrame({"weight_decay": [0.1, 1.0, 0.1, 1.0], "decay": ["all", "all", "weights", "weights"],
                        "lr": [1e-3] * 4, "lr_wd_steps": [0.1, 1.0, 0.1, 1.0], "level_db": [3.0, -5.0, 4.0, 1.0]})
    return {
        "waveforms": plots.waveforms({"input": wave, "target": wave, "output, default init": wave}, 16000),
        "spectrograms x4": plots.spectrograms({k: wave for k in ("target", "none", "mse 0.01", "mrstft 0.01")}, 16000),
        "spectrograms x2": plots.spectrograms({"input": wave, "target": wave}, 16000),
        "curves x4": plots.curves(groups(2), ["val_corr_target", "val_rms_ratio_db", "val_loss", "val_common_share"],
                                  ["correlation with target", "output RMS", "probe weight b (target)", "common share"],
                                  logy=[False, True, False, False]),
        "curves x3": plots.curves(groups(4), ["val_corr_target", "val_loss", "val_rms_ratio_db"],
                                  ["correlation with target", "best |corr| within ±10 ms", "output level re target (dB)"]),
        "curves x2 long label": plots.curves(groups(3), ["val_rms_ratio_db", "val_common_share"],
                                             ["output level relative to target (dB)", LONG]),
        "theory": plots.theory_vs_measured([0, 0.5, 1], [0, 0.7, 1], [0, 0.71, 1], "target weight w in (1-w) I + w T"),
        "level vs corr": plots.level_vs_correlation(table, "name"),
        "weights": plots.weight_rms_vs_prediction({f"lr 0.001, wd {d:g}": history(0, 4, d) for d in (0.0, 0.1, 1.0, 3.0, 0.01)}),
        "sweep": plots.sweep([1e-8, 1e-4, 1e-2, 1e-1], {f"frozen -12 dB, {a}": [1, 2, 3, 4] for a in ("clip", "frame", "batch")}
                             | {f"default (+3 dB), {a}": [4, 3, 2, 1] for a in ("clip", "frame", "batch")},
                             "epsilon in the correlation's denominator", "final output level re target (dB)", hlines=(0, -20)),
        "level vs decay": plots.level_vs_time_constants(dyn, hlines=(0.0, -20.0)),
        "level panels x3": plots.level_panels({f"setting {i}": {f"fix number {j}": [history(j), history(j + 5)]
                                                               for j in range(5)} for i in range(3)}),
    }


@pytest.fixture(scope="module")
def figures():
    return every_figure()


@pytest.mark.parametrize("name", list(every_figure()))
def test_no_text_is_cut_and_the_width_is_the_columns(figures, name):
    fig = figures[name]
    assert plots.clipped_texts(fig) == [], f"{name}: texts outside the figure or longer than their panel"
    width, height, _ = png_size(fig)
    assert width == round(plots.WIDTH * plots.DPI), f"{name}: {width} px wide"
    assert height < 1.2 * width, f"{name}: {width} x {height} px is taller than a column can show"


@pytest.mark.parametrize("name", list(every_figure()))
def test_at_most_two_panels_side_by_side(figures, name):
    assert grid_shape(figures[name])[1] <= 2


def test_four_panels_make_a_2x2_grid_in_the_order_of_the_keys(figures):
    fig = figures["curves x4"]
    assert grid_shape(fig) == (2, 2)
    assert [ax.get_ylabel().replace("\n", " ") for ax in fig.axes] == [
        "correlation with target", "output RMS", "probe weight b (target)", "common share"]
    assert fig.axes[1].get_yscale() == "log"  # logy follows its key, not a position
    assert len(plots.spectrograms({str(i): torch.randn(2048) for i in range(4)}, 16000).axes) == 4


def test_three_panels_leave_no_empty_axes(figures):
    fig = figures["curves x3"]
    assert len(fig.axes) == 3 and grid_shape(fig) == (2, 2)
    fig.draw_without_rendering()
    # the top-right panel has no panel below it: it shows its own step ticks
    assert any(t.get_visible() and t.get_text() for t in fig.axes[1].get_xticklabels())


def test_the_long_label_of_issue_19_wraps_instead_of_being_cut(figures):
    fig = figures["curves x2 long label"]
    label = fig.axes[1].get_ylabel()
    assert label.replace("\n", " ") == LONG and "\n" in label
    # the old layout (4 in per panel, 3 in high) cut it; it is not cut now
    assert LONG not in plots.clipped_texts(fig)


def test_clipped_texts_finds_a_cut_label():
    fig = plots.BookFigure(figsize=(2, 1.2))
    ax = fig.subplots()
    ax.set_ylabel("a label far longer than this tiny panel is high " * 2)
    assert plots.clipped_texts(fig)


def test_the_style_holds_at_render_time_and_the_background_is_transparent(figures):
    fig = figures["theory"]
    with matplotlib.rc_context({"xtick.labelsize": 3}):  # whatever the caller's rcParams
        _, _, img = png_size(fig)
        sizes = {t.get_fontsize() for t in fig.axes[0].get_xticklabels()}
    assert sizes == {plots.STYLE["xtick.labelsize"]}
    assert img.shape[2] == 4 and img[0, 0, 3] == 0  # transparent corner: the page's colour shows
    assert matplotlib.rcParams["font.size"] != 11 or matplotlib.rcParams["figure.facecolor"] != "none", \
        "plots.style() must not leak into the global rcParams"


def test_legends_with_many_entries_go_below_the_panels(figures):
    fig = figures["sweep"]
    assert fig.legends and not fig.axes[0].get_legend()
    legend_top = fig.legends[0].get_window_extent().y1
    assert legend_top <= fig.axes[0].get_window_extent().y0 + 1


def test_callers_can_still_annotate_the_first_panel(figures):
    fig = plots.curves(groups(2), ["val_rms_ratio_db", "val_common_share"], ["level (dB)", "share"])
    fig.axes[0].axhline(0, color="k", lw=0.8)
    assert png_size(fig)[0] == round(plots.WIDTH * plots.DPI)


def test_frames_show_one_figure_at_a_time_with_a_range_input():
    sweep = algebra.mix_sweep(torch.randn(4, 512), torch.randn(4, 512), [0.0, 0.5, 1.0], [-0.5, 0.0, 0.5])
    frames = plots.correlation_explorer(sweep.weights, sweep.correlations, sweep.predicted, sweep.measured)
    page = frames._repr_html_()
    imgs = re.findall(r"<img [^>]*>", page)
    assert len(imgs) == 3 and sum("display:none" in i for i in imgs) == 2
    assert 'data-value="+0.0"' in imgs[1] and "display:none" not in imgs[1]  # starts at r = 0
    assert all('alt="Correlation with the target' in i for i in imgs)
    assert re.search(r'<input type="range" min="0" max="2" step="1" value="1"', page)
    assert "<script" not in page and "http" not in page  # inline handler only, nothing fetched
    assert frames._repr_png_() == frames.pngs[1]


def test_frames_reject_bad_input():
    with pytest.raises(ValueError, match=r"\[R, W\] = \[2, 3\]"):
        plots.correlation_explorer([0, 0.5, 1], [0.0, 0.5], np.zeros((3, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="at least one figure"):
        plots.Frames({}, "r")
    with pytest.raises(ValueError, match="start must index"):
        plots.Frames({"a": plots.BookFigure()}, "r", start=1)


def test_level_panels_draw_one_panel_per_setting_with_its_title_and_one_line_per_fix(figures):
    fig = figures["level panels x3"]
    assert [ax.get_title(loc="left") for ax in fig.axes] == ["setting 0", "setting 1", "setting 2"]
    assert len({ax.get_ylim() for ax in fig.axes}) == 1  # one scale
    assert all(len(ax.get_lines()) == 5 + 2 for ax in fig.axes) and grid_shape(fig) == (2, 2)  # and the band's two
