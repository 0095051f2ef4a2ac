"""WAV I/O: mono WAV files read and written with their errors named, and folders of (input, target) pairs.

Files are written atomically (``resmix._io``); a file that is truncated, multi-channel, at another
rate or out of range is refused with a message naming it. Shape: a waveform ``[N]`` float32 in [-1, 1].
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

from resmix._checks import check_sample_rate
from resmix._io import atomic_path


class ClippingWarning(UserWarning):
    """A waveform written to WAV had samples outside [-1, 1] and was clipped."""


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
