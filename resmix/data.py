"""Synthetic audio pairs, the data interface over every source, framing between waveforms and ``[B, D, T]``, and WAV I/O.

Waveforms are ``[B, N]`` float32 (batch, samples); model tensors are ``[B, D, T]``
(batch, samples per frame, frames). :func:`training_pairs`, :func:`held_out` and
:func:`answer_clips` serve ``DataConfig.source``: the synthetic pairs (procedural and seeded)
or a real corpus installed on the machine (:mod:`resmix.corpora`). Nothing is downloaded.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch import Tensor

from ._checks import check_same_shape, check_sample_rate, check_tensor
from ._io import atomic_path
from .config import DataConfig

PENTATONIC = np.array([0, 2, 4, 7, 9, 12, 14, 16])  # semitones: consonant, easy to hear
MINOR = np.array([0, 3, 5, 7, 10, 12])


class ClippingWarning(UserWarning):
    """A waveform written to WAV had samples outside [-1, 1] and was clipped."""


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


def training_pairs(cfg: DataConfig) -> tuple[Tensor, Tensor]:
    """The training pairs of ``cfg.source``: ``cfg.n_train`` pairs drawn with the data seed ``cfg.seed``.

    ``"synthetic"``: ``make_pairs(cfg.n_train, cfg, seed=cfg.seed)``, bit for bit; a real corpus:
    :func:`resmix.corpora.pairs` on its training split (built into the cache on first use; raises
    :class:`resmix.recordings.CorpusMissingError`, naming what to install, when it is absent).

    Shape: ``(input, target)``, each ``[n_train, N]`` float32 at RMS ``cfg.rms``.
    """
    if cfg.source == "synthetic":
        return make_pairs(cfg.n_train, cfg, seed=cfg.seed)
    from . import corpora  # corpora reads WAVs through this module: imported on use
    return corpora.pairs(cfg, "train")


def held_out(cfg: DataConfig) -> tuple[Tensor, Tensor]:
    """The held-out pairs every chapter and every run's evaluation use: ``cfg.n_val`` pairs, seed ``cfg.seed + 1``.

    ``"synthetic"``: ``make_pairs(cfg.n_val, cfg, seed=cfg.seed + 1)``; a real corpus: its held-out
    split (pieces never seen in training), see :mod:`resmix.corpora`.

    Shape: ``(input, target)``, each ``[n_val, N]``.
    """
    if cfg.source == "synthetic":
        return make_pairs(cfg.n_val, cfg, seed=cfg.seed + 1)
    from . import corpora
    return corpora.pairs(cfg, "held_out")


def answer_clips(cfg: DataConfig) -> Tensor:
    """A real answer for the held-out pairs: the chorales' tenor on the windows of ``held_out(cfg)``.

    Raises ``ValueError`` for a source without a third voice (``"synthetic"``, ``"music"``).

    Shape: ``[n_val, N]``, aligned clip for clip with ``held_out(cfg)``.
    """
    from . import corpora
    return corpora.answer(cfg)


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


def frame(wave: Tensor, frame_size: int) -> Tensor:
    """Cut waveforms into non-overlapping frames: ``[B, N] -> [B, D, T]``, D = frame_size."""
    check_tensor(wave, "wave", 2, "[B, N]")
    B, N = wave.shape
    if isinstance(frame_size, bool) or not isinstance(frame_size, (int, np.integer)) or frame_size < 1 or N % frame_size:
        raise ValueError(f"wave length N={N} must be a positive multiple of frame_size={frame_size}")
    return wave.reshape(B, N // frame_size, frame_size).transpose(1, 2)  # (B, D, T)


def unframe(x: Tensor) -> Tensor:
    """Join frames back into waveforms: ``[B, D, T] -> [B, N]``, N = D * T. Inverse of frame."""
    if not isinstance(x, Tensor) or x.ndim != 3:
        raise ValueError(f"x must have shape [B, D, T]; got {getattr(x, 'shape', type(x))}")
    B, D, T = x.shape
    return x.transpose(1, 2).reshape(B, D * T)  # (B, N)


@dataclass(frozen=True)
class WavWrite:
    """What :func:`save_wav` wrote: the path and how many samples it clipped."""

    path: Path
    n_clipped: int


def save_wav(path: str | os.PathLike, wave: Tensor | np.ndarray, sample_rate: int) -> WavWrite:
    """Write a mono ``[N]`` waveform as 16-bit PCM WAV, atomically.

    Samples outside [-1, 1] are clipped, counted in the result and reported with
    a :class:`ClippingWarning`.
    """
    if isinstance(wave, Tensor):
        wave = wave.detach().cpu().double()  # NumPy has no bfloat16: cast in torch first
    w = np.asarray(wave, dtype=np.float64)
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate < 1:
        raise ValueError(f"sample_rate must be a positive integer (Hz); got {sample_rate!r}")
    if w.ndim != 1 or w.size == 0:
        raise ValueError(f"wave must be a non-empty mono waveform [N]; got shape {list(w.shape)}")
    if not np.isfinite(w).all():
        raise ValueError("wave contains NaN or infinite values")
    n_clipped = int(np.sum(np.abs(w) > 1.0))
    if n_clipped:
        warnings.warn(f"{path}: {n_clipped} of {w.size} samples outside [-1, 1] were clipped",
                      ClippingWarning, stacklevel=2)
    with atomic_path(path, suffix=".wav") as tmp:
        sf.write(tmp, np.clip(w, -1.0, 1.0), sample_rate, subtype="PCM_16")
    return WavWrite(Path(path), n_clipped)


_WAV_BYTES = {"PCM_U8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8}


def _declared_frames(path: str | os.PathLike, info) -> int | None:
    """Sample frames a RIFF/WAVE header declares (``None``: not a plain WAV, or size unknown).

    libsndfile quietly reads what a truncated file still holds; the header says how
    much it should hold.
    """
    if info.format != "WAV" or info.subtype not in _WAV_BYTES:
        return None
    with open(path, "rb") as f:
        riff = f.read(12)
        if riff[:4] != b"RIFF" or riff[8:] != b"WAVE":
            return None
        while len(head := f.read(8)) == 8:
            size = int.from_bytes(head[4:], "little")
            if head[:4] == b"data":
                streamed = size in (0, 0xFFFFFFFF)  # writers that never went back to fill it in
                return None if streamed else size // (_WAV_BYTES[info.subtype] * info.channels)
            f.seek(size + size % 2, os.SEEK_CUR)  # chunks are padded to even sizes
    return None


def load_wav(path: str | os.PathLike, sample_rate: int | None = None) -> tuple[Tensor, int]:
    """Read a mono WAV as ``[N]`` float32 in [-1, 1].

    Raises ``FileNotFoundError`` for a missing file, ``ValueError`` (naming the file) when it is
    not audio, when ``sample_rate`` is not a positive integer, when it has more than one channel,
    when ``sample_rate`` is given and the file's rate differs (resample it first),
    when it is shorter than its header says (truncated), or when a float WAV holds
    NaN, infinite or out-of-range samples (nothing is clipped or repaired silently).
    """
    if sample_rate is not None:
        check_sample_rate(sample_rate)  # "8000" read as "expected 8000 Hz; got 8000 Hz"
    with open(path, "rb"):  # a missing, unreadable or directory path fails here with its own name
        pass
    try:
        info = sf.info(str(path))
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except sf.SoundFileError as e:
        raise ValueError(f"{path}: not a readable audio file ({e}); expected a mono WAV") from None
    if data.shape[1] != 1:
        raise ValueError(f"{path}: expected a mono WAV (1 channel); got {data.shape[1]} channels")
    if sample_rate is not None and sr != sample_rate:
        raise ValueError(f"{path}: expected sample rate {sample_rate} Hz; got {sr} Hz")
    if data.shape[0] == 0:
        raise ValueError(f"{path}: the file holds no samples")
    declared = _declared_frames(path, info)
    if declared is not None and data.shape[0] < declared:
        raise ValueError(f"{path}: truncated: the header declares {declared} samples, the file holds "
                         f"{data.shape[0]}")
    if not np.isfinite(data).all():
        raise ValueError(f"{path}: {int((~np.isfinite(data)).sum())} samples are NaN or infinite; "
                         "expected finite samples in [-1, 1]")
    peak = float(np.abs(data).max())
    if peak > 1.0:
        raise ValueError(f"{path}: samples reach {peak:.4g}; expected [-1, 1] (scale the file down "
                         "by its peak before loading)")
    return torch.from_numpy(data[:, 0].copy()), sr


def _wav_files(folder: Path) -> dict[str, Path]:
    """``{name with its suffix as ".wav": path}`` of the WAV files in ``folder``, ``.wav`` in any case.

    ``glob("*.wav")`` is case-sensitive on Linux: ``b.WAV`` was silently left out.
    """
    out: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.suffix.lower() == ".wav" and p.is_file():
            name = p.stem + ".wav"
            if name in out:
                raise ValueError(f"{folder}: {out[name].name} and {p.name} differ only in the case of their "
                                 "suffix; keep one of them")
            out[name] = p
    return out


def _case_hint(missing: list[str]) -> str:
    """A hint when unmatched names differ only in case (``A.wav`` against ``a.wav``)."""
    lower: dict[str, list[str]] = {}
    for m in missing:
        lower.setdefault(m.lower(), []).append(m)
    same = [v for v in lower.values() if len(v) > 1]
    return f"; these differ only in case (names are case-sensitive): {same}" if same else ""


class WavPairFolder(torch.utils.data.Dataset):
    """(input, target) pairs from ``root/input/*.wav`` and ``root/target/*.wav`` with matching names.

    The suffix may be in any case (``a.WAV`` pairs with ``a.wav``); the names before it must match exactly.

    All files must be mono at ``sample_rate`` (``None``: at the rate of the first file,
    which ``self.sample_rate`` then holds); each pair must have the same length.
    With ``n_samples`` (>= 1) every clip is cut to that length (a shorter clip is an
    error); without it, all clips must share one length. Items are ``([N], [N])`` float32.
    """

    def __init__(self, root: str | os.PathLike, sample_rate: int | None, n_samples: int | None = None):
        for name, v in (("sample_rate", sample_rate), ("n_samples", n_samples)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1):
                raise ValueError(f"{name} must be a positive integer or None; got {v!r}")
        root = Path(root)
        inp, tgt = root / "input", root / "target"
        if not inp.is_dir() or not tgt.is_dir():
            raise ValueError(f"{root} must contain folders input/ and target/ of WAV files")
        inputs, targets = _wav_files(inp), _wav_files(tgt)
        missing = sorted(set(inputs) ^ set(targets))
        if missing:
            raise ValueError(f"{root}: every input needs a target of the same name; unmatched: "
                             f"{[(inputs.get(m) or targets[m]).name for m in missing]}{_case_hint(missing)}")
        if not inputs:
            others = sorted(p.name for p in inp.iterdir() if p.is_file())
            raise ValueError(f"{root}/input holds no .wav files" + (f" (it holds {len(others)} other files, e.g. "
                             f"{others[0]}: convert them to WAV)" if others else ""))
        names = sorted(inputs)
        pairs = []
        for name in names:
            x, sample_rate = load_wav(inputs[name], sample_rate)  # None: the first file's rate binds the rest
            y, _ = load_wav(targets[name], sample_rate)
            if len(x) != len(y):
                raise ValueError(f"{name}: input has {len(x)} samples, target {len(y)}; expected equal lengths")
            if n_samples is not None:
                if len(x) < n_samples:
                    raise ValueError(f"{name}: {len(x)} samples, shorter than n_samples={n_samples}")
                x, y = x[:n_samples], y[:n_samples]
            pairs.append((x, y))
        lengths = {len(x) for x, _ in pairs}
        if len(lengths) > 1:
            raise ValueError(f"{root}: clips have different lengths {sorted(lengths)}; pass n_samples to cut them")
        self.names, self.pairs, self.sample_rate = [inputs[n].name for n in names], pairs, sample_rate

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.pairs[i]

    def tensors(self) -> tuple[Tensor, Tensor]:
        """All pairs stacked: ``(input, target)``, each ``[n, N]``."""
        return torch.stack([x for x, _ in self.pairs]), torch.stack([y for _, y in self.pairs])
