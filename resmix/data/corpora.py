"""Clip pairs from the real recordings: split by piece, silent windows dropped, windows drawn by the data seed.

The recordings come from :mod:`resmix.data.recordings` (read or rendered once into a verified cache).
Here they become clips, by four stated rules:

1. **Split by piece, never one recording on both sides.** ``music``: the held-out split is the
   whole track ``HELD_OUT_TRACK`` (Reno Project, the one artist of the five with no other track:
   no artist on both sides; 322 s of 1107 s), the other four tracks train. ``chorales``: of the
   chorales in sorted order, every fifth (index 4, 9, 14, ...) is held out, the others train.
2. **Candidate windows** tile each recording without overlap, from its first sample: ``music``
   a pair spans ``2 N`` samples (input clip t, target clip t+1, a continuation), ``chorales`` ``N``
   (input, target and answer voices over the same samples). Clips of different pairs never share
   a sample, so the held-out set's "other clips" are other music, not shifted copies.
3. **Silent windows are dropped before normalisation** (:class:`~resmix.criteria.SilenceCriteria`):
   ``music``: both clips at most ``music_floor_db`` below their track's RMS; ``chorales``: each of
   soprano, bass and tenor at most ``voice_floor_db`` below that voice's RMS over the chorale.
4. **The data seed draws the windows**: ``cfg.seed`` draws ``cfg.n_train`` of the training split's
   valid windows without replacement (NumPy's ``default_rng``), ``cfg.seed + 1`` draws
   ``cfg.n_val`` of the held-out split's. Asking for more than a split holds is an error that
   says how many it holds (nothing is repeated or padded silently).

Each clip is then normalised like the synthetic ones: mean removed, RMS ``cfg.rms``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from resmix.config import DataConfig
from resmix.criteria import SILENCE, SilenceCriteria

from .recordings import VOICES, Recording, load

SPLITS = ("train", "held_out")
HELD_OUT_TRACK = "reno_project-system"
HOLD_OUT_EVERY = 5  # chorales: every fifth piece is held out, 20%
INPUT_VOICE, TARGET_VOICE = "Soprano", "Bass"  # the outer voices, the melody and its foundation
# The third voice, the "real answer" for a model given soprano and bass: an inner voice, written to
# fit both. The tenor rather than the alto: the alto mostly shadows the soprano a third or sixth
# below in its rhythm; the tenor is the more independent line. Measured on held-out windows
# (0.128 s, 512 clips): |rho| with the soprano 0.017 (alto 0.035), with the bass 0.029 (alto 0.034).
ANSWER_VOICE = "Tenor"
SOURCES_WITH_ANSWER = ("chorales",)


@dataclass(frozen=True)
class Windows:
    """Which windows a split's clips come from: piece names, and per clip its piece and first sample.

    ``piece``, ``start``: ``[n]`` integer arrays (``start`` in samples at ``cfg.sample_rate``).
    """

    pieces: tuple[str, ...]
    piece: np.ndarray
    start: np.ndarray


@dataclass(frozen=True)
class SplitInfo:
    """A split's size: pieces, seconds of audio, candidate windows and those that pass the silence rule."""

    pieces: tuple[str, ...]
    seconds: float
    candidates: int
    valid: int


def _real(cfg: DataConfig) -> str:
    if cfg.source == "synthetic":
        raise ValueError("resmix.data.corpora serves the real corpora; DataConfig.source='synthetic' is "
                         "resmix.data.synthetic.make_pairs")
    return cfg.source


def _split(source: str, recordings: list[Recording], split: str) -> list[Recording]:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}; got {split!r}")
    if source == "music":
        held = [r.name == HELD_OUT_TRACK for r in recordings]
    else:
        order = sorted(range(len(recordings)), key=lambda i: recordings[i].name)
        rank = {i: k for k, i in enumerate(order)}
        held = [rank[i] % HOLD_OUT_EVERY == HOLD_OUT_EVERY - 1 for i in range(len(recordings))]
    return [r for r, h in zip(recordings, held) if h == (split == "held_out")]


def _level_db(x: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``20 log10(rms(x) / reference)`` over the last axis; silence is -inf, not an error."""
    with np.errstate(divide="ignore"):
        return 20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64), -1)) / reference)


def _voice_rows(source: str) -> list[int]:
    return [0] if source == "music" else [VOICES.index(v) for v in (INPUT_VOICE, TARGET_VOICE, ANSWER_VOICE)]


def window_levels(source: str, recording: Recording, n_samples: int) -> np.ndarray:
    """Level of every candidate window against its recording, in dB: ``[K, C]``.

    ``music``: ``C = 2`` (input clip, target clip); ``chorales``: ``C = 3`` (soprano, bass, tenor),
    each against that voice's RMS over the whole chorale.
    """
    span = 2 * n_samples if source == "music" else n_samples
    audio = recording.audio[_voice_rows(source)]  # (C', L)
    k = audio.shape[1] // span
    whole = np.sqrt(np.mean(np.square(audio, dtype=np.float64), -1))  # (C',)
    tiles = audio[:, :k * span].reshape(audio.shape[0], k, span // n_samples, n_samples)  # (C', K, S, N)
    levels = _level_db(tiles, whole[:, None, None])  # (C', K, S)
    return levels.transpose(1, 0, 2).reshape(k, -1)  # (K, C): music (1 voice x 2 clips), chorales (3 x 1)


def _floor(source: str, criteria: SilenceCriteria) -> float:
    return criteria.music_floor_db if source == "music" else criteria.voice_floor_db


def _valid(cfg: DataConfig, split: str, criteria: SilenceCriteria):
    source = _real(cfg)
    recordings = _split(source, load(source, cfg.sample_rate)[0], split)
    span = 2 * cfg.n_samples if source == "music" else cfg.n_samples
    piece, start, candidates = [], [], 0
    for i, rec in enumerate(recordings):
        levels = window_levels(source, rec, cfg.n_samples)  # (K, C)
        keep = np.flatnonzero((levels >= _floor(source, criteria)).all(1))
        candidates += len(levels)
        piece.append(np.full(len(keep), i))
        start.append(keep * span)
    return recordings, np.concatenate(piece), np.concatenate(start), candidates


def describe(cfg: DataConfig, split: str, criteria: SilenceCriteria = SILENCE) -> SplitInfo:
    """How large a split is at ``cfg``'s clip length: see :class:`SplitInfo`."""
    recordings, piece, _, candidates = _valid(cfg, split, criteria)
    seconds = sum(r.audio.shape[1] for r in recordings) / cfg.sample_rate
    return SplitInfo(tuple(r.name for r in recordings), seconds, candidates, len(piece))


def windows(cfg: DataConfig, split: str, criteria: SilenceCriteria = SILENCE) -> Windows:
    """The windows of a split drawn by the data seed (rule 4 of the module docstring)."""
    recordings, piece, start, _ = _valid(cfg, split, criteria)
    n, seed = (cfg.n_train, cfg.seed) if split == "train" else (cfg.n_val, cfg.seed + 1)
    if n > len(piece):
        raise ValueError(
            f"DataConfig.source={cfg.source!r}: the {split} split holds {len(piece)} windows of "
            f"{cfg.n_samples} samples that pass the silence rule; asked for {n} (lower "
            f"{'n_train' if split == 'train' else 'n_val'} or clip_seconds)")
    drawn = np.random.default_rng(seed).choice(len(piece), size=n, replace=False)
    return Windows(tuple(r.name for r in recordings), piece[drawn], start[drawn])


def _normalise(x: np.ndarray, rms: float) -> np.ndarray:
    """``[n, N]`` clips with the mean removed and RMS ``rms`` (the rule of :func:`resmix.data.synthetic.make_pairs`)."""
    x = x - x.mean(-1, keepdims=True)
    return x * (rms / np.sqrt(np.mean(x ** 2, -1, keepdims=True)))


def _cut(cfg: DataConfig, split: str, roles: tuple[str, ...]) -> list[Tensor]:
    source = _real(cfg)
    recordings = _split(source, load(source, cfg.sample_rate)[0], split)
    w, N = windows(cfg, split), cfg.n_samples
    out = []
    for role in roles:
        if source == "music":  # input: clip t, target: clip t + 1
            row, offset = 0, (N if role == "target" else 0)
        else:
            row, offset = VOICES.index({"input": INPUT_VOICE, "target": TARGET_VOICE, "answer": ANSWER_VOICE}[role]), 0
        clips = np.stack([recordings[p].audio[row, s + offset:s + offset + N] for p, s in zip(w.piece, w.start)])
        out.append(torch.from_numpy(_normalise(clips.astype(np.float64), cfg.rms).astype(np.float32)))
    return out


def pairs(cfg: DataConfig, split: str) -> tuple[Tensor, Tensor]:
    """``(input, target)`` clips of a split, each ``[n, N]`` float32 at RMS ``cfg.rms``.

    ``n`` is ``cfg.n_train`` for ``"train"`` and ``cfg.n_val`` for ``"held_out"``; ``N = cfg.n_samples``.
    """
    x, y = _cut(cfg, split, ("input", "target"))
    return x, y


def answer(cfg: DataConfig, split: str = "held_out") -> Tensor:
    """The chorales' third voice on a split's windows, aligned clip for clip with :func:`pairs` of that split:
    ``[n_val, N]`` (``"held_out"``) or ``[n_train, N]`` (``"train"``)."""
    if cfg.source not in SOURCES_WITH_ANSWER:
        raise ValueError(f"DataConfig.source={cfg.source!r} has no third voice to serve as a real answer; "
                         f"answer clips exist for {SOURCES_WITH_ANSWER}")
    return _cut(cfg, split, ("answer",))[0]


def excerpt(cfg: DataConfig, n_clips: int = 8, criteria: SilenceCriteria = SILENCE) -> dict[str, Tensor]:
    """``n_clips`` consecutive clips from the held-out split, for listening: ``{role: [n_clips, N]}``.

    The first stretch of ``n_clips + 1`` consecutive clip slots of the first held-out piece where every
    clip passes the silence rule. ``music``: clip ``k``'s input is slot ``k`` and its target slot
    ``k + 1`` (so the inputs play slots 0..n-1 and the targets 1..n: a continuation, one clip later);
    ``chorales``: input, target and answer voices over the same slots. Each clip is normalised as the
    training clips are, so a model hears what it was trained on; played back to back they give
    ``n_clips x clip_seconds`` of audio (8 x 0.128 s = 1.024 s on the quick profile).
    """
    source = _real(cfg)
    rec = _split(source, load(source, cfg.sample_rate)[0], "held_out")[0]
    N, floor = cfg.n_samples, _floor(source, criteria)
    rows = _voice_rows(source)
    slots = rec.audio[rows, : (rec.audio.shape[1] // N) * N].reshape(len(rows), -1, N)  # (C, K, N)
    whole = np.sqrt(np.mean(np.square(rec.audio[rows], dtype=np.float64), -1))  # (C,)
    ok = (_level_db(slots, whole[:, None]) >= floor).all(0)  # (K,)
    run = np.convolve(ok.astype(int), np.ones(n_clips + 1, dtype=int), "valid") == n_clips + 1
    if not run.any():
        raise ValueError(f"{rec.name}: no {n_clips + 1} consecutive clips of {N} samples pass the silence rule")
    s = int(np.flatnonzero(run)[0])
    take = lambda row, first: torch.from_numpy(  # noqa: E731
        _normalise(slots[row, first:first + n_clips].astype(np.float64), cfg.rms).astype(np.float32))
    if source == "music":
        return {"input": take(0, s), "target": take(0, s + 1)}
    return {"input": take(0, s), "target": take(1, s), "answer": take(2, s)}
