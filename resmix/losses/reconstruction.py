"""The reconstruction terms: waveform MSE, the multi-resolution STFT loss, and what they match.

Shape: waveforms ``[B, N]`` or model tensors ``[B, D, T]`` (a cohort's ``[E, B, ...]`` in the
member functions). References: Yamamoto et al. 2020, Parallel WaveGAN (arXiv:1910.11480).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from resmix._checks import check_same_shape, check_sample_rate
from resmix.data.framing import unframe

from .correlation import _waves


def stft_resolutions(sample_rate: int) -> list[tuple[int, int, int]]:
    """``(n_fft, hop, win)`` of Parallel WaveGAN's three resolutions, scaled from 24 kHz.

    Yamamoto et al. 2020 (arXiv:1910.11480) use (1024, 120, 600), (2048, 240, 1200)
    and (512, 50, 240) at 24 kHz; windows and hops scale with the sample rate, and
    n_fft is the next power of two at or above the window.
    """
    scale = sample_rate / 24000
    out = []
    for hop, win in ((120, 600), (240, 1200), (50, 240)):
        w, h = max(16, round(win * scale)), max(4, round(hop * scale))
        out.append((1 << (w - 1).bit_length(), h, w))
    return out



def _stacked_mrstft(x: Tensor, y: Tensor, sample_rate: int) -> Tensor:
    """The MR-STFT loss of waves ``[E, B, N]`` stacked into one STFT call per resolution -> ``[E]``."""
    E, B, N = x.shape
    total = x.new_zeros(E)
    resolutions = stft_resolutions(sample_rate)
    for n_fft, hop, win in resolutions:
        if N < win:
            raise ValueError(f"signals of {N} samples are shorter than the STFT window {win}")
        window = torch.hann_window(win, device=x.device)
        X, Y = (torch.stft(s.reshape(E * B, N), n_fft, hop, win, window, return_complex=True).abs().clamp_min(1e-7)
                for s in (x, y))  # (E*B, F, frames)
        sc = torch.linalg.norm(Y - X, dim=(1, 2)) / torch.linalg.norm(Y, dim=(1, 2))  # (E*B,)
        log = (Y.log() - X.log()).abs().reshape(E, -1).mean(-1)  # (E,)
        total = total + sc.view(E, B).mean(-1) + log
    return total / len(resolutions)


def _mrstft(output: Tensor, target: Tensor, sample_rate: int) -> Tensor:
    """:func:`mrstft_loss` of every member: ``[E, B, N]`` (or ``[E, B, D, T]``) -> ``[E]``.

    Each member's STFTs run on its own ``B`` rows, one call per member, exactly as for a run alone.
    The FFT's backward is not batch-invariant: the gradient of one member's rows, transformed beside
    another member's, differs in its last bits (3.8e-6 on an STFT's gradient, two members stacked), and
    training carries that on, so a member's run depended on the cohort it trained in (found when a
    stored campaign's MR-STFT runs, trained 30 to a cohort, did not re-derive alone).
    """
    x, y = _waves(output).float(), _waves(target).float()
    return torch.cat([_stacked_mrstft(x[e:e + 1], y[e:e + 1], sample_rate) for e in range(x.shape[0])])


def mrstft_loss(output: Tensor, target: Tensor, sample_rate: int) -> Tensor:
    """Multi-resolution STFT loss: spectral convergence plus mean absolute log-magnitude difference.

    Zero for identical signals and blind to phase (a sign flip costs nothing).
    Shape: waveforms ``[B, N]`` or model tensors ``[B, D, T]``.
    """
    check_same_shape("[B, N]", output=output, target=target)
    check_sample_rate(sample_rate)  # 0 or negative scaled every window to its 16-sample floor
    x = unframe(output) if output.ndim == 3 else output
    y = unframe(target) if target.ndim == 3 else target
    return _mrstft(x.unsqueeze(0), y.unsqueeze(0), sample_rate)[0]


def _mse(output: Tensor, target: Tensor) -> Tensor:
    E = output.shape[0]
    return (output.float() - target.float()).pow(2).reshape(E, -1).mean(-1)  # (E,)


def reconstruction(output: Tensor, target: Tensor, kind: str, sample_rate: int) -> Tensor:
    """``kind="mse"``: waveform mean squared error; ``kind="mrstft"``: :func:`mrstft_loss`."""
    check_same_shape("[B, D, T]", output=output, target=target)
    if kind == "mse":
        return _mse(output.unsqueeze(0), target.unsqueeze(0))[0]
    if kind == "mrstft":
        return mrstft_loss(output, target, sample_rate)
    raise ValueError(f"kind must be 'mse' or 'mrstft'; got {kind!r}")



def reconstruction_reference(input: Tensor, target: Tensor, reference: str) -> Tensor:
    """What the reconstruction term matches, ``[B, D, T]`` (or ``[E, B, D, T]``).

    ``"target"``: the target itself. ``"negated"``: ``-target``. ``"product"``: the sample-wise
    product ``input * target`` rescaled per clip to the target's RMS; for independent
    zero-mean input and target it is uncorrelated with both, so no mix of them carries any of
    it, yet each output sample depends only on the two inputs at that sample. ``"difference"``:
    ``(input - target) / sqrt(2)``, a linear map of the inputs that for independent clips of equal
    RMS is uncorrelated with the leaky residual ``(input + target) / 2``.
    """
    if reference == "target":
        return target
    if reference == "negated":
        return -target
    if reference == "difference":
        return (input - target) / math.sqrt(2)
    if reference == "allpass":
        return allpass(target)
    if reference == "product":
        p = input * target
        clip = (-2, -1)
        scale = target.pow(2).mean(clip, keepdim=True).sqrt() / p.pow(2).mean(clip, keepdim=True).sqrt().clamp_min(1e-12)
        return p * scale
    raise ValueError(f"reference must be one of 'target', 'negated', 'difference', 'product', 'allpass'; got {reference!r}")


ALLPASS_SEED = 0  # the all-pass filter's phases: one fixed draw, the same for every clip and run


def allpass(x: Tensor) -> Tensor:
    """Each clip through one fixed all-pass filter with random phases: ``[..., D, T] -> [..., D, T]``.

    The phase of every Fourier coefficient of the unframed clip is shifted by a draw uniform in
    ``[0, 2 pi)`` (seed ``ALLPASS_SEED``; DC and Nyquist stay real), so the result has exactly the clip's
    magnitude spectrum and, its impulse response being spread over the whole clip, next to no
    correlation with it at any small lag: a deterministic, learnable "meaningful but not copied" target.
    """
    lead, (D, T) = x.shape[:-2], x.shape[-2:]
    w = x.transpose(-1, -2).reshape(*lead, D * T).float()  # unframe
    N = D * T
    gen = torch.Generator().manual_seed(ALLPASS_SEED)
    phase = torch.rand(N // 2 + 1, generator=gen, dtype=torch.float64) * 2 * math.pi
    phase[0] = 0.0
    if N % 2 == 0:
        phase[-1] = 0.0
    rot = torch.polar(torch.ones_like(phase), phase).to(torch.complex64).to(w.device)
    out = torch.fft.irfft(torch.fft.rfft(w) * rot, N)
    return out.reshape(*lead, T, D).transpose(-1, -2).to(x.dtype)

