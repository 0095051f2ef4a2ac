"""Framing: waveforms ``[B, N]`` cut into non-overlapping frames ``[B, D, T]`` (the model's tensors) and back.

``D`` is the frame size (samples per frame, the model's feature dimension), ``T = N / D`` frames.
"""
from __future__ import annotations

import numpy as np
from torch import Tensor

from resmix._checks import check_tensor


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
