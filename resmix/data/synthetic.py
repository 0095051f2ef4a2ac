"""Synthetic audio pairs: seeded melodies (input) and plucks (target), independent by construction.

Waveforms are ``[B, N]`` float32 (batch, samples). :func:`make_pairs` is the data of the book's
first six chapters; :func:`mix_correlated` makes a target with a chosen correlation to the input.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from resmix._checks import check_same_shape
from resmix.config import DataConfig

PENTATONIC = np.array([0, 2, 4, 7, 9, 12, 14, 16])  # semitones: consonant, easy to hear
MINOR = np.array([0, 3, 5, 7, 10, 12])


def _envelope(tt: np.ndarray, attack: float, decay: float) -> np.ndarray:
    """Attack-decay envelope; zero before the onset (tt < 0)."""
    on = tt >= 0
    tt = np.where(on, tt, 0.0)
    return on * (1.0 - np.exp(-tt / attack)) * np.exp(-tt / decay)


def _input_clip(rng: np.random.Generator, t: np.ndarray, sr: int) -> np.ndarray:
    """A slow melody of harmonic notes (organ/string-like timbre)."""
    x = np.zeros_like(t)
    duration = t[-1] + 1 / sr
    n_notes = int(rng.integers(2, 5))
    onsets = np.sort(np.concatenate([[0.0], rng.uniform(0.1, 0.8, n_notes - 1) * duration]))
    for onset in onsets:
        f0 = 220.0 * 2 ** (rng.choice(PENTATONIC) / 12)
        env = _envelope(t - onset, attack=0.02, decay=rng.uniform(0.2, 0.5))
        for k in range(1, 9):
            if k * f0 >= sr / 2:
                break
            x += env * rng.uniform(0.5, 1.0) / k * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi))
    return x


def _target_clip(rng: np.random.Generator, t: np.ndarray, sr: int) -> np.ndarray:
    """A busier rhythm of FM plucks in a lower register, with noise hits."""
    y = np.zeros_like(t)
    duration = t[-1] + 1 / sr
    step = duration / 8  # an eighth-note grid: a different rhythm family from the input
    for i in range(8):
        tt = t - i * step
        if rng.random() < 0.6:
            f0 = 110.0 * 2 ** (rng.choice(MINOR) / 12)
            index = rng.uniform(1.0, 4.0) * np.exp(-np.maximum(tt, 0) / 0.05)
            y += _envelope(tt, 0.002, 0.08) * np.sin(2 * np.pi * f0 * tt + index * np.sin(4 * np.pi * f0 * tt))
        if rng.random() < 0.3:
            y += 0.3 * _envelope(tt, 0.001, 0.01) * rng.standard_normal(t.shape)
    if not np.any(y):  # an empty bar: force one pluck so that every clip has energy
        y += _envelope(t, 0.002, 0.08) * np.sin(2 * np.pi * 110.0 * t)
    return y


def _normalise(x: np.ndarray, rms: float) -> np.ndarray:
    x = x - x.mean()
    return x * (rms / np.sqrt(np.mean(x ** 2)))


def make_pairs(n: int, cfg: DataConfig | None = None, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Generate ``n`` independent (input, target) clips, each normalised to ``cfg.rms``.

    Inputs are harmonic melodies; targets are FM plucks and noise hits on a
    faster grid. The two are drawn independently, so their correlation is near 0.

    Args:
        n: number of pairs.
        cfg: data settings (sample rate, length, RMS); defaults to ``DataConfig()``.
        seed: the same seed gives the same clips on every machine.

    Returns:
        ``(input, target)``, each ``[n, N]`` float32 with ``N = cfg.n_samples``.
    """
    cfg = cfg or DataConfig()
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an integer >= 1 (pairs); got {n!r}")
    rng = np.random.default_rng(seed)
    t = np.arange(cfg.n_samples) / cfg.sample_rate
    inputs = np.stack([_normalise(_input_clip(rng, t, cfg.sample_rate), cfg.rms) for _ in range(n)])
    targets = np.stack([_normalise(_target_clip(rng, t, cfg.sample_rate), cfg.rms) for _ in range(n)])
    return torch.from_numpy(inputs.astype(np.float32)), torch.from_numpy(targets.astype(np.float32))



def mix_correlated(input: Tensor, target: Tensor, rho: float) -> Tensor:
    """A new target ``rho * u + sqrt(1 - rho^2) * v`` with the input's RMS.

    ``u`` and ``v`` are the input and target scaled to unit RMS; for an input and
    target that are uncorrelated, the result has correlation ``rho`` with the input.

    Shape: input, target ``[B, N]``; returns ``[B, N]``.
    """
    check_same_shape("[B, N]", input=input, target=target)
    if not -1.0 <= rho <= 1.0:
        raise ValueError(f"rho must lie in [-1, 1]; got {rho}")
    for name, w in (("input", input), ("target", target)):  # a silent clip has no direction: NaN, silently
        silent = (w == 0).all(-1)
        if silent.any():
            raise ValueError(f"{name} clips {silent.nonzero().flatten().tolist()} are silent; a correlation "
                             "needs clips with some signal")
    unit = lambda w: w / w.pow(2).mean(-1, keepdim=True).sqrt()  # noqa: E731
    rms = target.pow(2).mean(-1, keepdim=True).sqrt()
    return rms * (rho * unit(input) + (1 - rho ** 2) ** 0.5 * unit(target))
