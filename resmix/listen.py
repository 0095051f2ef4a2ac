"""Listening: write waveforms to WAV through resmix and return players for a notebook."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import torch

from .data import save_wav


def players(signals: Mapping[str, torch.Tensor], sample_rate: int, folder: str | os.PathLike,
            normalize: bool = False):
    """Save each mono ``[N]`` waveform as ``folder/<name>.wav`` and return an HTML table of players.

    With ``normalize=False`` levels are kept as they are (a quiet output sounds quiet);
    samples beyond [-1, 1] are scaled down for playback only, with a note.
    """
    from IPython.display import HTML, Audio
    rows = []
    for name, w in signals.items():
        w = w.detach().float().cpu()
        peak = float(w.abs().max())
        note = ""
        if peak > 1.0:
            w, note = w / peak, f" (peak {peak:.1f}: scaled down by {peak:.1f}x to play)"
        slug = "".join(c if c.isalnum() else "_" for c in name.lower())
        save_wav(Path(folder) / f"{slug}.wav", w, sample_rate)
        audio = Audio(w.numpy(), rate=sample_rate, normalize=normalize)._repr_html_()
        rows.append(f"<tr><td style='padding-right:1em'>{name}{note}</td><td>{audio}</td></tr>")
    return HTML("<table>" + "".join(rows) + "</table>")
