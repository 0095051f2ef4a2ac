"""Metrics and leak diagnostics. Pure functions of tensors, one value per batch item.

``rms``, ``pearson`` and ``leak_probe`` take any ``[B, ...]`` (waveforms ``[B, N]``
or model tensors ``[B, D, T]``): they flatten everything but the batch. The
spectral metrics take waveforms ``[B, N]``.

Quiet signals: float32 squares underflow below about 1e-19 (an output at RMS 1e-22 squares
to 1e-44, a denormal, or 0), which is where a collapsing run's outputs go. Every sum of
squares here is taken after dividing each item by a power of two near its peak
(``_pow2_scale``): the division is exact, so ordinary signals give the same bits as
without it, and the scale-free metrics stay scale-free down to float32's smallest numbers.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch
from torch import Tensor

from resmix._checks import check_same_shape, check_tensor


def _flat(x: Tensor, name: str, finite: bool = True) -> Tensor:
    if not isinstance(x, Tensor) or x.ndim < 2:
        raise ValueError(f"{name} must be a tensor [B, ...] with a batch dimension; got "
                         f"{list(x.shape) if isinstance(x, Tensor) else type(x).__name__}")
    check_tensor(x, name, x.ndim, "[B, ...]", finite=finite)
    return x.reshape(x.shape[0], -1).float()  # (B, M)


def _pow2_scale(x: Tensor, dim: int | None = -1) -> Tensor:
    """A power of two ``S`` in ``(peak / 2, peak]`` of ``|x|`` per row (``dim=-1``: ``[B, M] -> [B, 1]``),
    or over the whole tensor (``dim=None``: 0-d); 1 where ``x`` is all zeros.

    ``x / S`` is exact (only the exponent changes) and lies in ``(-2, 2]``: its squares neither
    underflow nor overflow in float32. Detached: a function of ``x / S`` that is invariant to
    ``S`` has the same value and gradient with ``S`` held fixed.
    """
    a = x.detach().abs()
    peak = a.amax() if dim is None else a.amax(dim, keepdim=True)
    _, exponent = torch.frexp(peak)  # peak = m * 2**exponent, 0.5 <= m < 1
    scale = torch.ldexp(torch.ones_like(peak), exponent - 1)  # never inf: exponent - 1 <= 127
    return torch.where(peak > 0, scale, torch.ones_like(peak))


def rms(x: Tensor) -> Tensor:
    """Root mean square per item: ``[B, ...] -> [B]`` (the mean is included: DC counts).

    Exact for quiet items too (an item at RMS 1e-22 reads 1e-22, not 0: module docstring).
    """
    x = _flat(x, "x")  # (B, M)
    scale = _pow2_scale(x)  # (B, 1)
    return (x / scale).pow(2).mean(-1).sqrt() * scale.squeeze(-1)


def pearson(a: Tensor, b: Tensor, eps: float = 0.0, finite: bool = True) -> Tensor:
    """Pearson correlation per item, ``cov / (s_a * s_b + eps)``: ``[B, ...] x [B, ...] -> [B]``.

    With ``eps = 0`` a constant item gives NaN (0/0); with ``eps > 0`` the value is
    ``rho * s / (s + eps)`` for ``s = s_a * s_b``, which falls to 0 as either signal
    shrinks. Chapter 4 shows why that matters. Each item is scaled by a power of two first
    (module docstring): the same bits for ordinary signals, and no 0/0 or inf at RMS 1e-22.
    """
    check_same_shape("[B, ...]", a=a, b=b)
    a, b = _flat(a, "a", finite), _flat(b, "b", finite)
    sa, sb = _pow2_scale(a), _pow2_scale(b)  # (B, 1) each; exact divisions
    a, b = a / sa, b / sb
    a = a - a.mean(-1, keepdim=True)
    b = b - b.mean(-1, keepdim=True)
    cov = (a * b).mean(-1)
    s = a.pow(2).mean(-1).sqrt() * b.pow(2).mean(-1).sqrt()
    if eps:  # eps in the scaled units: cov / (s_a s_b + eps) exactly; 0 where the scales underflow
        s = s + (eps / sa.squeeze(-1)) / sb.squeeze(-1)
    return cov / s


def rms_ratio_db(output: Tensor, reference: Tensor) -> Tensor:
    """Level of ``output`` relative to ``reference`` in dB, ``20 log10(rms_out / rms_ref)``: ``[B]``.

    Levels below RMS 1e-12 (-240 dBFS) read as 1e-12: silence is a finite number of dB.
    """
    return 20 * torch.log10(rms(output).clamp_min(1e-12) / rms(reference).clamp_min(1e-12))


def _power_frames(wave: Tensor, n_fft: int) -> Tensor:
    check_tensor(wave, "wave", 2, "[B, N]")
    if isinstance(n_fft, bool) or not isinstance(n_fft, int) or n_fft < 4:
        raise ValueError(f"n_fft must be an integer >= 4 (its hop is n_fft // 4); got {n_fft!r}")
    if wave.shape[1] < n_fft:
        raise ValueError(f"wave must have at least n_fft={n_fft} samples [B, N]; got {list(wave.shape)}")
    window = torch.hann_window(n_fft, device=wave.device)
    spec = torch.stft(wave.float(), n_fft, hop_length=n_fft // 4, window=window, center=False,
                      return_complex=True)  # (B, F, frames)
    return spec.abs().pow(2)


def spectral_flatness(wave: Tensor, n_fft: int = 256) -> Tensor:
    """Geometric over arithmetic mean of the power spectrum, averaged over frames: ``[B, N] -> [B]``.

    0 for a pure tone (or silence and DC), near 1 for white noise (Dubnov 2004). The
    measure ignores level: each item is scaled to unit peak first (so a quiet or
    denormal-level signal scores as its loud copy), bins are floored 120 dB below that
    scale, and a frame with no power (silence) scores 0.
    """
    check_tensor(wave, "wave", 2, "[B, N]")
    w = wave.double()  # float64 holds float32 denormals as normal numbers: the scaling is exact
    peak = w.abs().amax(-1, keepdim=True)  # (B, 1)
    w = (w / peak.masked_fill(peak == 0, 1.0)).float()
    p = _power_frames(w, n_fft)  # (B, F, frames)
    silent = p.mean(1) <= 1e-12  # (B, frames): nothing above the floor
    p = p + 1e-12
    flatness = p.log().mean(1).exp() / p.mean(1)
    return torch.where(silent, torch.zeros_like(flatness), flatness).mean(-1)


def log_spectral_distance(output: Tensor, reference: Tensor, n_fft: int = 256,
                          floor_db: float = -80.0) -> Tensor:
    """``sqrt(mean_f (10 log10(P_ref / P_out))^2)`` averaged over frames, in dB: ``[B, N] -> [B]``.

    Both power spectra are floored at ``floor_db`` below the reference's peak power, so
    bins far below audibility (clean synthetic signals have many near-zero bins) do
    not dominate the distance. Both are taken in units of the reference's peak, so the
    distance of a quiet pair is that of its loud copy.
    """
    check_same_shape("[B, N]", output=output, reference=reference)
    check_tensor(reference, "reference", 2, "[B, N]")
    scale = _pow2_scale(reference.float())  # (B, 1): both spectra in the reference's units, exactly
    p, q = _power_frames(reference.float() / scale, n_fft), _power_frames(output.float() / scale, n_fft)
    floor = p.amax(dim=(1, 2), keepdim=True) * 10 ** (floor_db / 10) + 1e-20
    p, q = p.clamp_min(floor), q.clamp_min(floor)
    return (10 * torch.log10(p / q)).pow(2).mean(1).sqrt().mean(-1)


def band_envelope(wave: Tensor, sample_rate: int, n_bands: int = 12, low_hz: float = 125.0,
                  n_fft: int = 512, floor_db: float = -80.0) -> Tensor:
    """Each clip's long-term spectral envelope: energy in ``n_bands`` log-spaced bands, in dB: ``[B, N] -> [B, K]``.

    Power spectra of Hann frames (hop ``n_fft // 4``) are averaged over the clip (Welch), summed
    within bands whose edges are spaced geometrically from ``low_hz`` to the Nyquist frequency, and
    floored at ``floor_db`` below the clip's strongest band. The resolution of a multi-resolution
    STFT loss's coarsest view, not of single harmonics.
    """
    check_tensor(wave, "wave", 2, "[B, N]")
    if not isinstance(sample_rate, int) or sample_rate < 1:
        raise ValueError(f"sample_rate must be a positive integer (Hz); got {sample_rate!r}")
    n_fft = min(n_fft, 1 << (wave.shape[1].bit_length() - 1))  # a clip shorter than n_fft: one frame
    scale = _pow2_scale(wave.float())  # (B, 1): the spectrum of a quiet clip would underflow in float32
    p = _power_frames(wave.float() / scale, n_fft).mean(-1).double() * scale.double() ** 2  # (B, F), Welch average
    freqs = torch.arange(p.shape[1], dtype=torch.float64) * sample_rate / n_fft
    edges = torch.logspace(math.log10(low_hz), math.log10(sample_rate / 2), n_bands + 1, dtype=torch.float64)
    band = torch.bucketize(freqs, edges, right=True) - 1  # (F,): -1 below low_hz, n_bands at Nyquist
    keep = (band >= 0) & (band < n_bands)
    energy = torch.zeros(p.shape[0], n_bands, dtype=torch.float64, device=p.device)
    energy.index_add_(1, band[keep].to(p.device), p[:, keep.to(p.device)])
    db = 10 * torch.log10(energy.clamp_min(1e-300))
    return torch.maximum(db, db.amax(-1, keepdim=True) + floor_db).float()  # (B, K)


def envelope_distance(a: Tensor, b: Tensor) -> Tensor:
    """RMS over bands of the dB difference of two envelopes with their mean level removed: ``[B, K] x [B, K] -> [B]``.

    The shape of the spectrum, not its level (the remedy score's level test judges that).
    """
    check_same_shape("[B, K]", a=a, b=b)
    d = a - b
    return (d - d.mean(-1, keepdim=True)).pow(2).mean(-1).sqrt()


def chroma(wave: Tensor, sample_rate: int, low_hz: float = 65.0, high_hz: float = 2000.0,
           n_fft: int = 2048, pad_to: int | None = None) -> Tensor:
    """Each clip's pitch-class profile: its long-term power folded into the 12 semitones of the octave, ``[B, N] -> [B, 12]``.

    Power spectra of Hann frames (hop ``n_fft // 4``) are averaged over the clip (Welch); each bin
    between ``low_hz`` and ``high_hz`` adds its power to the pitch class nearest its frequency
    (class 0 is A, 440 Hz and its octaves; equal temperament); each profile sums to 1 (uniform for a
    silent clip). A note's octave harmonics land on its own class, its 3rd and 5th on its fifth and
    major third: the classic chroma of music retrieval (Fujishima 1999), which tells two clips'
    harmony apart at a resolution no band envelope has. A clip shorter than ``n_fft`` uses frames of its
    largest power of two.

    Resolution: bins lie ``sample_rate / n_fft`` apart, 3.9 Hz at 2048 points and 8 kHz, but 7.8 Hz on the
    book's 1,024-sample clips, where several pitch classes have no bin between 65 and 130 Hz: a pure G2
    (98 Hz) lands on F# and G#, and notes up to about 260 Hz spill into their neighbours. Version 3 of the
    remedy score was registered with this default. ``pad_to`` (a power of two above the frame length)
    zero-pads each Hann frame before its FFT, so a low note's peak falls in its own class (its main lobe
    stays as wide as the frame allows).
    """
    check_tensor(wave, "wave", 2, "[B, N]")
    if not isinstance(sample_rate, int) or sample_rate < 1:
        raise ValueError(f"sample_rate must be a positive integer (Hz); got {sample_rate!r}")
    if not 0 < low_hz < high_hz:
        raise ValueError(f"chroma needs 0 < low_hz < high_hz; got {low_hz!r}, {high_hz!r}")
    n_fft = min(n_fft, 1 << (wave.shape[1].bit_length() - 1))
    scale = _pow2_scale(wave.float())  # (B, 1): exact, and a quiet clip's power does not underflow
    if pad_to is None or pad_to <= n_fft:
        p = _power_frames(wave.float() / scale, n_fft).mean(-1).double()  # (B, F)
        n_bins = n_fft
    else:
        if pad_to & (pad_to - 1):
            raise ValueError(f"chroma's pad_to must be a power of two; got {pad_to!r}")
        frames = (wave.float() / scale).unfold(-1, n_fft, n_fft // 4) * torch.hann_window(n_fft, device=wave.device)
        p = torch.fft.rfft(frames, n=pad_to).abs().pow(2).mean(1).double()  # (B, F): frames zero-padded
        n_bins = pad_to
    freqs = torch.arange(p.shape[1], dtype=torch.float64) * sample_rate / n_bins
    keep = (freqs >= low_hz) & (freqs <= min(high_hz, sample_rate / 2))
    pitch = torch.remainder(torch.round(12 * torch.log2(freqs[keep] / 440.0)), 12).long()  # (F_kept,)
    profile = torch.zeros(p.shape[0], 12, dtype=torch.float64, device=p.device)
    profile.index_add_(1, pitch.to(p.device), p[:, keep.to(p.device)])
    total = profile.sum(-1, keepdim=True)
    return torch.where(total > 0, profile / total.clamp_min(1e-300), torch.full_like(profile, 1 / 12)).float()  # (B, 12)


class DegenerateFitWarning(RuntimeWarning):
    """A leak-probe fit was degenerate for some items; their values are NaN."""


@dataclass
class LeakProbe:
    """Least-squares fit ``output ~ a*input + b*target + c``, per item (``[B]`` each).

    ``r2`` near 1 with ``a`` and ``b`` near 1/2 means the output is a mix of its
    inputs, not a transformation of them.
    """

    a: Tensor
    b: Tensor
    c: Tensor
    r2: Tensor

    def means(self) -> dict[str, float]:
        """The batch means of a, b, c and R^2 as floats."""
        return {k: float(getattr(self, k).mean()) for k in ("a", "b", "c", "r2")}


def leak_probe(output: Tensor, input: Tensor, target: Tensor) -> LeakProbe:
    """Fit ``output ~ a*input + b*target + c`` over all samples of each item.

    Degenerate fits give NaN, with a :class:`DegenerateFitWarning` naming the items
    and the reason, never a number that reads as a result: ``r2`` is NaN where the
    output is constant (nothing to explain), ``a``, ``b`` and ``c`` are NaN where the
    input, the target and a constant are linearly dependent (e.g. a constant input).
    Fewer than 4 samples per item (no residual left to judge the fit) is a ``ValueError``.

    Shape: each ``[B, ...]`` (same shape); returns :class:`LeakProbe` of ``[B]`` tensors.
    """
    check_same_shape("[B, ...]", output=output, input=input, target=target)
    y, x1, x2 = (_flat(t.detach(), n).double().cpu() for t, n in ((output, "output"), (input, "input"), (target, "target")))
    if y.shape[1] < 4:
        raise ValueError(f"leak_probe fits 3 coefficients, so it needs at least 4 samples per item "
                         f"[B, ...]; got {list(output.shape)}")
    X = torch.stack([x1, x2, torch.ones_like(x1)], dim=-1)  # (B, M, 3)
    fit = torch.linalg.lstsq(X, y.unsqueeze(-1))  # CPU default driver (gelsy) reports the rank
    coef = fit.solution.squeeze(-1)  # (B, 3)
    resid = y - (X @ coef.unsqueeze(-1)).squeeze(-1)
    ss_tot = (y - y.mean(-1, keepdim=True)).pow(2).sum(-1)
    r2 = 1 - resid.pow(2).sum(-1) / ss_tot.clamp_min(1e-300)
    constant = y.amax(-1) == y.amin(-1)  # (B,)
    dependent = fit.rank < 3  # (B,)
    r2[constant] = float("nan")
    coef[dependent] = float("nan")
    for mask, why in ((constant, "the output is constant, so R^2 is undefined"),
                      (dependent, "input, target and a constant are linearly dependent, so a, b, c "
                                  "are not identifiable")):
        if mask.any():
            warnings.warn(f"leak_probe: items {mask.nonzero().flatten().tolist()}: {why}; NaN returned",
                          DegenerateFitWarning, stacklevel=2)
    return LeakProbe(coef[:, 0].float(), coef[:, 1].float(), coef[:, 2].float(), r2.float())


def level_meter(level: float, width: int = 40, floor_db: float = -60.0) -> str:
    """A text bar for an RMS level: full at 0 dBFS, empty at ``floor_db``."""
    if not (isinstance(level, (int, float)) and level >= 0):  # NaN failed as "cannot convert float NaN to integer"
        raise ValueError(f"level must be an RMS level >= 0; got {level!r}")
    db = 20 * math.log10(max(level, 1e-12))
    filled = round(width * min(max((db - floor_db) / -floor_db, 0.0), 1.0))
    return "█" * filled + "·" * (width - filled)


def level_report(output: Tensor, input: Tensor, target: Tensor, label: str = "Output") -> str:
    """The seed's three-line report (meter, RMS levels, correlations) for batch means."""
    r_out, r_tgt = float(rms(output).mean()), float(rms(target).mean())
    c_t = float(pearson(output, target, eps=1e-12).mean())
    c_i = float(pearson(output, input, eps=1e-12).mean())
    ratio = r_tgt / max(r_out, 1e-12)
    how = f"{ratio:.0f}x quieter than target" if ratio >= 1 else f"{1 / ratio:.1f}x louder than target"
    return (f"{label:<7}: {level_meter(r_out)}\n"
            f"  RMS Levels:  {label}={r_out:.4f} ({how})\n"
            f"  Correlation: Out→Target={c_t:.3f}  Out→Input={c_i:.3f}")


# --- What a model does with its inputs (input dependence, hidden copies) -------------------------

def common_share(output: Tensor) -> Tensor:
    """Fraction of the output's power in the waveform shared by every clip (a scalar).

    ``B * ||mean_b out_b||^2 / sum_b ||out_b||^2``: 1 when every clip's output is the same
    waveform (the model ignores its inputs), about ``1/B`` for independent zero-mean clips.
    Shape: ``[B, ...]`` with ``B >= 2``; returns a 0-d tensor.
    """
    y = _flat(output, "output")  # (B, M)
    if y.shape[0] < 2:
        raise ValueError(f"common_share needs at least 2 clips [B, ...]; got {list(output.shape)}")
    y = y / _pow2_scale(y, dim=None)  # one scale for the batch: the ratio compares clips
    total = y.pow(2).sum()
    if total == 0:
        return torch.tensor(float("nan"))  # silence has no power to share
    return y.shape[0] * y.mean(0).pow(2).sum() / total


@dataclass
class SwapSensitivity:
    """Relative change of the output when each clip's input (or target) is another clip's: ``[B]`` each.

    ``input`` near 0 means the output does not depend on the input; about ``sqrt(2)``
    means it changes as much as two independent outputs differ.
    """

    input: Tensor
    target: Tensor

    def means(self) -> dict[str, float]:
        return {"input": float(self.input.mean()), "target": float(self.target.mean())}


@torch.no_grad()
def swap_sensitivity(model, input: Tensor, target: Tensor, batch_dim: int = 0,
                     output: Tensor | None = None) -> SwapSensitivity:
    """``||f(x_pi, y) - f(x, y)|| / ||f(x, y)||`` per clip, with ``pi`` a cyclic shift of the batch.

    Same for the target (``f(x, y_pi)``). ``model(input, target)`` returns ``[B, D, T]`` or a
    tuple whose last item is (like :class:`~resmix.models.two_stage.TwoStageModel`).
    Shape: input, target ``[B, D, T]`` with ``B >= 2``; with ``batch_dim=1``, a cohort's
    ``[E, B, D, T]`` (each member's clips are shifted among themselves), giving ``[E, B]`` each.
    ``output``: ``f(x, y)`` when already computed (one forward pass fewer).
    """
    check_same_shape("[B, D, T]", input=input, target=target)
    if input.shape[batch_dim] < 2:
        raise ValueError(f"swap_sensitivity needs at least 2 clips [B, D, T]; got {list(input.shape)}")

    def run(x, y):
        out = model(x, y)
        out = out[-1] if isinstance(out, (tuple, list)) else out
        return out.flatten(batch_dim + 1).float()  # (..., B, D*T)

    base = run(input, target) if output is None else output.flatten(batch_dim + 1).float()
    scale = _pow2_scale(base)  # (..., B, 1): a relative change of a quiet output is read as of its loud copy
    norm = (base / scale).norm(dim=-1).clamp_min(1e-12)
    rolled_x, rolled_y = input.roll(1, batch_dim), target.roll(1, batch_dim)
    return SwapSensitivity(((run(rolled_x, target) - base) / scale).norm(dim=-1) / norm,
                           ((run(input, rolled_y) - base) / scale).norm(dim=-1) / norm)


@dataclass
class LaggedCorrelation:
    """Largest ``|normalised cross-correlation|`` within a window of lags and where it is: ``[B]`` each."""

    value: Tensor  # |rho| at the best lag, in [0, 1]
    lag: Tensor  # samples; positive: ``a`` lags ``b`` (``a[t] ~ b[t - lag]``)


def lagged_correlation(a: Tensor, b: Tensor, max_lag: int) -> LaggedCorrelation:
    """Per item, ``max_{|k| <= max_lag} |sum_t a'[t] b'[t - k]| / (||a'|| ||b'||)``, with means removed.

    ``a'`` and ``b'`` are the mean-removed signals, zero outside ``[0, N)`` (no wrap-around), so
    lag 0 is exactly Pearson's correlation. A copy of ``b`` delayed by 12 samples gives about
    ``(N - 12) / N`` at lag 12 while its zero-lag correlation can be near 0.
    Shape: waveforms ``[B, N]`` (model tensors ``[B, D, T]`` are unframed first).
    """
    if a.ndim == 3:
        from resmix.data.framing import unframe  # metrics stays below data in the layering for everything else
        a, b = unframe(a), unframe(b)
    check_same_shape("[B, N]", a=a, b=b)
    a, b = _flat(a, "a"), _flat(b, "b")
    n = a.shape[1]
    if isinstance(max_lag, bool) or not isinstance(max_lag, int) or not 0 <= max_lag < n:
        raise ValueError(f"max_lag must be an integer in 0..{n - 1} samples; got {max_lag!r}")
    a, b = a / _pow2_scale(a), b / _pow2_scale(b)  # quiet items: no underflow (module docstring)
    a = a - a.mean(-1, keepdim=True)
    b = b - b.mean(-1, keepdim=True)
    size = 1 << (2 * n - 1).bit_length()  # zero padding: linear, not circular, correlation
    xc = torch.fft.irfft(torch.fft.rfft(a, size) * torch.fft.rfft(b, size).conj(), size)  # (B, size)
    lags = torch.arange(-max_lag, max_lag + 1, device=a.device)
    window = xc[:, lags % size]  # (B, 2*max_lag+1): xc[k] = sum_t a[t] b[t-k]
    denom = (a.norm(dim=-1) * b.norm(dim=-1)).clamp_min(1e-30)
    rho = window.abs() / denom[:, None]
    best = rho.argmax(-1)
    return LaggedCorrelation(rho.gather(1, best[:, None]).squeeze(1), lags[best].to(a.device))


def predicted_abs_correlation(a: Tensor, b: Tensor, max_lag: int | None = None) -> Tensor:
    """Expected ``|rho|`` of two *independent* signals with the autocorrelations of ``a`` and ``b``: ``[B]``.

    Bartlett's formula: for independent stationary series, ``Var(rho) ~ (1/N) sum_k r_a(k) r_b(k)``
    with ``r`` the normalised autocorrelations, i.e. ``rho ~ N(0, 1/N_eff)`` with
    ``N_eff = N / sum_k r_a(k) r_b(k)``, and ``E|rho| = sqrt(2 / (pi N_eff))``.
    An output that ignores its inputs reaches no lower on held-out clips.
    Shape: waveforms ``[B, N]``; ``max_lag`` defaults to ``N // 4``.
    """
    check_same_shape("[B, N]", a=a, b=b)
    a, b = _flat(a, "a"), _flat(b, "b")
    n = a.shape[1]
    max_lag = n // 4 if max_lag is None else max_lag
    if isinstance(max_lag, bool) or not isinstance(max_lag, int) or not 0 <= max_lag < n:
        raise ValueError(f"max_lag must be an integer in 0..{n - 1} samples; got {max_lag!r}")
    size = 1 << (2 * n - 1).bit_length()

    def autocorr(x):
        x = x / _pow2_scale(x)  # r is normalised by r[0]: the scale cancels, underflow does not happen
        x = x - x.mean(-1, keepdim=True)
        f = torch.fft.rfft(x, size)
        r = torch.fft.irfft(f * f.conj(), size)[:, : max_lag + 1]  # (B, max_lag+1), lags 0..max_lag
        return r / r[:, :1].clamp_min(1e-30)

    ra, rb = autocorr(a), autocorr(b)
    s = (ra * rb)[:, 0] + 2 * (ra * rb)[:, 1:].sum(-1)  # both signs of k
    return (2 / math.pi * s.clamp_min(0) / n).sqrt()
