"""Listening: write waveforms to WAV through resmix and return players for a notebook."""
from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Mapping, Sequence

import torch

from resmix.data.wav import save_wav


def _file_names(signals: Mapping[str, torch.Tensor]) -> dict[str, str]:
    """``{name: "<slug>.wav"}``, checked before anything is written: names that slug alike
    (``"Output 1"``, ``"output_1"``) would overwrite each other, an empty one write a hidden ``.wav``."""
    out: dict[str, str] = {}
    by_file: dict[str, str] = {}
    for name in signals:
        if not isinstance(name, str):
            raise TypeError(f"players: names must be strings; got {name!r} ({type(name).__name__})")
        slug = "".join(c if c.isalnum() else "_" for c in name.lower())
        if not any(c.isalnum() for c in slug):
            raise ValueError(f"players: name {name!r} has no letter or digit to name its file; give it one")
        file = f"{slug}.wav"
        if file in by_file:
            raise ValueError(f"players: {by_file[file]!r} and {name!r} would both be saved as {file}; give them "
                             "names that differ in their letters or digits")
        out[name], by_file[file] = file, name
    return out


def players(signals: Mapping[str, torch.Tensor], sample_rate: int, folder: str | os.PathLike,
            normalize: bool = False):
    """Save each mono ``[N]`` waveform as ``folder/<name>.wav`` and return an HTML table of players.

    ``<name>`` is the name in lower case with every other character than a letter or digit as ``_``;
    names that give the same file, or none, are refused before anything is written.

    With ``normalize=False`` levels are kept as they are (a quiet output sounds quiet);
    samples beyond [-1, 1] are scaled down for playback only, with a note.
    """
    from IPython.display import HTML, Audio
    files = _file_names(signals)
    rows = []
    for name, w in signals.items():
        w = w.detach().float().cpu()
        peak = float(w.abs().max())
        note = ""
        if peak > 1.0:
            w, note = w / peak, f" (peak {peak:.1f}: scaled down by {peak:.1f}x to play)"
        save_wav(Path(folder) / files[name], w, sample_rate)
        audio = Audio(w.numpy(), rate=sample_rate, normalize=normalize)._repr_html_()
        rows.append(f"<tr><td style='padding-right:1em'>{html.escape(name)}{note}</td><td>{audio}</td></tr>")
    return HTML("<table>" + "".join(rows) + "</table>")


def trained_outputs(groups: Mapping[str, Sequence], results: str | os.PathLike, input: torch.Tensor,
                    target: torch.Tensor, seed: int = 0, data_seed: int | None = None) -> dict[str, torch.Tensor]:
    """``{name: waveform}``: what each group's stored run with model seed ``seed`` (and ``data_seed``, when
    given) outputs on the clips ``input``, ``target`` ``[B, D, T]``, its clips joined back to back ``[B * N]``.

    The chapters' players: ``players({"target": ..., **trained_outputs(runs, RESULTS, x, y)}, sr, folder)``.
    """
    from resmix.data.framing import unframe
    from resmix.study.runner import load_model
    out = {}
    for name, runs in groups.items():
        h = next(h for h in runs if h.experiment.train.seed == seed
                 and (data_seed is None or h.experiment.data.seed == data_seed))
        with torch.no_grad():
            out[name] = unframe(load_model(h.experiment, results)(input, target)[1]).flatten()
    return out
