"""A remedy score that can fail: four pass/fail tests, and the known controls that show it can.

:func:`remedy_score` runs a model ``model(input, target) -> [B, D, T]`` on held-out clips
and reports four tests, each with its measured values; the thresholds are
:class:`~resmix.criteria.RemedyCriteria`, fixed before any run:

1. **level**: ``|mean_b 20 log10(rms(out_b) / rms(target_b))| <= level_band_db``;
2. **input dependence**: ``max(swap_input, swap_target) >= swap_floor`` and
   ``common_share <= common_share_ceiling`` (:func:`~resmix.measure.metrics.swap_sensitivity`,
   :func:`~resmix.measure.metrics.common_share`);
3. **no copy**: for ``r`` the target and the input, ``excess_r = mean_b L(out_b, r_b) -
   mean_{b != c} L(out_b, r_c) <= lag_excess_limit`` with ``L`` the largest absolute normalised
   cross-correlation within +-``lag_window_seconds`` (:func:`~resmix.measure.metrics.lagged_correlation`);
   the other clips' value is the chance level of independent signals with these spectra
   (tonal clips correlate well above 0 at some lag: +-10 ms spans a period of every note
   above 100 Hz, so an output at the target's pitches scores above chance without copying);
4. **spectral**: ``mean_b (mean_{c != b} LSD(out_b, target_c) - LSD(out_b, target_b)) >=
   spectral_margin_db`` (:func:`~resmix.measure.metrics.log_spectral_distance`): the output is closer
   in spectrum to its own target than to the other clips' targets. Version 2 of the score
   (``criteria.REMEDY_V2``, the second registration) compares the long-term band envelopes instead
   (:func:`~resmix.measure.metrics.band_envelope`, :func:`~resmix.measure.metrics.envelope_distance`).

:func:`sanity_table` runs the controls of ``CONTROLS`` through the same code: each negative
control must fail the test meant to catch it, and the positive control (a phase-randomised
target) must pass all four, so that the score is neither blind nor impossible
(:func:`sanity_problems` lists what went wrong).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Callable

import torch
from torch import Tensor

from resmix._checks import check_same_shape, check_sample_rate, check_tensor
from resmix.criteria import REMEDY, RemedyCriteria
from resmix.data.framing import frame, unframe

from .metrics import (
    band_envelope,
    chroma,
    common_share,
    envelope_distance,
    lagged_correlation,
    log_spectral_distance,
    rms_ratio_db,
    swap_sensitivity,
)
from .readout import _final

Model = Callable[[Tensor, Tensor], "Tensor | tuple[Tensor, ...]"]


@dataclass
class TestResult:
    """One test of the score: whether it passed, what was measured, and the rule."""

    __test__ = False  # not a pytest test class
    passed: bool
    values: dict[str, float]
    rule: str

    def __str__(self) -> str:
        shown = ", ".join(f"{k} {v:.3g}" for k, v in self.values.items())
        return f"{'pass' if self.passed else 'FAIL'} ({shown})"


@dataclass
class RemedyScore:
    """The four tests of :func:`remedy_score`."""

    level: TestResult
    input_dependence: TestResult
    no_copy: TestResult
    spectral: TestResult

    def tests(self) -> dict[str, TestResult]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def passed(self) -> bool:
        """All four tests passed."""
        return all(t.passed for t in self.tests().values())

    @property
    def failed(self) -> list[str]:
        """Names of the failed tests."""
        return [k for k, t in self.tests().items() if not t.passed]


def _shifted_mean(fn: Callable[[Tensor, Tensor], Tensor], out: Tensor, ref: Tensor) -> Tensor:
    """``mean_{c != b} fn(out_b, ref_c)`` per clip ``b``, over every other clip: ``[B]``."""
    B = out.shape[0]
    return torch.stack([fn(out, ref.roll(k, 0)) for k in range(1, B)]).mean(0)  # (B,)


@torch.no_grad()
def remedy_score(model: Model, input: Tensor, target: Tensor, sample_rate: int,
                 criteria: RemedyCriteria = REMEDY) -> RemedyScore:
    """Run ``model`` on held-out clips and apply the four tests of the module docstring.

    Args:
        model: ``model(input, target)`` returns ``[B, D, T]`` or a tuple whose last item is
            (a trained :class:`~resmix.models.two_stage.TwoStageModel` or a control of ``CONTROLS``).
        input, target: ``[B, D, T]`` with ``B >= 2`` (all other clips serve as the chance level;
            use the held-out set, 32 clips in both profiles).
        sample_rate: of the waveforms, for the lag window.
        criteria: the thresholds; the pre-registered ones by default.

    Shape: input, target ``[B, D, T]``.
    """
    check_tensor(input, "input", 3, "[B, D, T]")
    check_tensor(target, "target", 3, "[B, D, T]")
    check_same_shape("[B, D, T]", input=input, target=target)
    if input.shape[0] < 2:
        raise ValueError(f"remedy_score needs at least 2 clips [B, D, T]; got {list(input.shape)}")
    check_sample_rate(sample_rate)
    was_training = getattr(model, "training", False)
    if was_training:
        model.eval()
    out = _final(model(input, target)).float()
    if out.shape != target.shape:
        raise ValueError(f"the model must return [B, D, T] like its target {list(target.shape)}; got {list(out.shape)}")
    if not torch.isfinite(out).all():
        raise ValueError("the model's output holds NaN or infinite values (a diverged run?); a score needs a "
                         "finite output [B, D, T]")
    swap = swap_sensitivity(model, input, target).means()
    if was_training:
        model.train()
    ow, xw, yw = unframe(out), unframe(input.float()), unframe(target.float())  # (B, N)

    level_db = float(rms_ratio_db(ow, yw).mean())
    level = TestResult(abs(level_db) <= criteria.level_band_db, {"level_db": level_db},
                       f"|level| <= {criteria.level_band_db:g} dB")

    share = float(common_share(ow))  # NaN for silence: fails the comparison below
    depends = max(swap["input"], swap["target"])
    dependence = TestResult(depends >= criteria.swap_floor and share <= criteria.common_share_ceiling,
                            {"swap_input": swap["input"], "swap_target": swap["target"], "common_share": share},
                            f"max swap >= {criteria.swap_floor:g} and common share <= {criteria.common_share_ceiling:g}")

    lag = max(1, round(criteria.lag_window_seconds * sample_rate))
    lagged = lambda a, b: lagged_correlation(a, b, lag).value  # noqa: E731
    copy_values = {}
    for name, ref in (("target", yw), ("input", xw)):
        own = float(lagged(ow, ref).mean())
        if criteria.copy_chance == "surrogates":
            chance = float(torch.stack([lagged(ow, phase_randomised(ref, seed)) for seed in range(criteria.n_surrogates)]).mean())
        elif criteria.copy_chance == "other clips":
            chance = float(_shifted_mean(lagged, ow, ref).mean())
        else:
            raise ValueError(f"criteria.copy_chance must be 'other clips' or 'surrogates'; got {criteria.copy_chance!r}")
        copy_values |= {f"lag_corr_{name}": own, f"excess_{name}": own - chance}
    worst = max(copy_values["excess_target"], copy_values["excess_input"])
    no_copy = TestResult(worst <= criteria.lag_excess_limit, copy_values,
                         f"lagged |rho| over chance <= {criteria.lag_excess_limit:g} within "
                         f"+-{criteria.lag_window_seconds * 1000:g} ms, target and input")

    if criteria.spectral_measure == "lsd":
        own_lsd = log_spectral_distance(ow, yw)  # (B,)
        gain = float((_shifted_mean(log_spectral_distance, ow, yw) - own_lsd).mean())
        spectral = TestResult(gain >= criteria.spectral_margin_db, {"lsd": float(own_lsd.mean()), "lsd_gain": gain},
                              f"LSD to other targets - LSD to own >= {criteria.spectral_margin_db:g} dB")
    elif criteria.spectral_measure == "envelope":
        eo, et = (band_envelope(w, sample_rate, criteria.n_bands) for w in (ow, yw))  # (B, K)
        own = envelope_distance(eo, et)
        gain = float((_shifted_mean(envelope_distance, eo, et) - own).mean())
        spectral = TestResult(gain >= criteria.spectral_margin_db, {"envelope_db": float(own.mean()), "envelope_gain": gain},
                              f"envelope distance to other targets - to own >= {criteria.spectral_margin_db:g} dB")
    elif criteria.spectral_measure == "chroma":
        spectral = _harmony(ow, xw, yw, sample_rate, criteria)
    else:
        raise ValueError(f"criteria.spectral_measure must be 'lsd', 'envelope' or 'chroma'; got {criteria.spectral_measure!r}")
    return RemedyScore(level, dependence, no_copy, spectral)


def _harmony(out: Tensor, input: Tensor, target: Tensor, sample_rate: int, criteria: RemedyCriteria) -> TestResult:
    """Version 3's spectral test: the output's pitch classes fit its own clip's music (input and target) better
    than other clips' music. ``r_bc`` is the correlation over the 12 classes of output ``b``'s chroma with
    clip ``c``'s context chroma (the mean of its input's and its target's profiles); the statistic is
    ``mean_b r_bb``, its chance level the same mean with the contexts permuted among the clips
    (``criteria.n_permutations`` fixed draws). Passes when the permutation p-value is at most
    ``criteria.harmony_alpha`` and the gain over the permutations' mean is at least ``criteria.harmony_margin``."""
    co = chroma(out, sample_rate)  # (B, 12)
    ctx = 0.5 * (chroma(input, sample_rate) + chroma(target, sample_rate))  # (B, 12)
    a = co.double() - co.double().mean(-1, keepdim=True)
    b = ctx.double() - ctx.double().mean(-1, keepdim=True)
    norm = a.norm(dim=-1, keepdim=True) * b.norm(dim=-1, keepdim=True).T  # (B, B)
    r = torch.where(norm > 0, (a @ b.T) / norm.clamp_min(1e-300), torch.zeros_like(norm))  # (B, B): r[b, c]
    B = r.shape[0]
    own = float(r.diagonal().mean())
    gen = torch.Generator().manual_seed(0)
    idx = torch.arange(B)
    null = torch.stack([r[idx, torch.randperm(B, generator=gen)].mean() for _ in range(criteria.n_permutations)])
    p = float((1 + (null >= own - 1e-12).sum()) / (1 + criteria.n_permutations))
    gain = own - float(null.mean())
    return TestResult(p <= criteria.harmony_alpha and gain >= criteria.harmony_margin,
                      {"harmony_r": own, "harmony_gain": gain, "harmony_p": p},
                      f"chroma fits own clip's music: permutation p <= {criteria.harmony_alpha:g} "
                      f"and gain >= {criteria.harmony_margin:g}")


# --- Known controls: callables model(input, target) -> [B, D, T] -------------------------------

def silence() -> Model:
    """Outputs zeros."""
    return lambda input, target: torch.zeros_like(target)


def copy_of_target() -> Model:
    """Outputs the target itself."""
    return lambda input, target: target.clone()


def copy_of_input() -> Model:
    """Outputs the input itself (a model that passes its conditioning audio through)."""
    return lambda input, target: input.clone()


def leaky_mix() -> Model:
    """Outputs ``(input + target) / 2``: the leaky design's residual alone, its failure in chapter 1."""
    return lambda input, target: 0.5 * (input + target)


def shifted_copy(shift: int = 12) -> Model:
    """Outputs the target delayed by ``shift`` samples (zeros first): 1.5 ms at 8 kHz."""
    def model(input: Tensor, target: Tensor) -> Tensor:
        w = unframe(target)  # (B, N)
        delayed = torch.cat([w.new_zeros(w.shape[0], shift), w[:, :-shift]], dim=1)  # (B, N)
        return frame(delayed, target.shape[1])
    return model


def fixed_waveform(sample_rate: int, freqs: tuple[float, ...] = (220.0, 261.6, 329.6)) -> Model:
    """Outputs one chord (A minor by default) for every clip, at the batch's mean target RMS.

    Its level follows the batch as a whole, which a swap of clips within the batch leaves
    unchanged: the output does not depend on any clip's input or target.
    """
    def model(input: Tensor, target: Tensor) -> Tensor:
        B, D, T = target.shape
        t = torch.arange(D * T, dtype=torch.float64, device=target.device) / sample_rate
        chord = sum(torch.sin(2 * math.pi * f * t) for f in freqs)  # (N,)
        level = unframe(target).double().pow(2).mean().sqrt()
        chord = chord * level / chord.pow(2).mean().sqrt()
        return frame(chord.to(target.dtype).expand(B, -1), D)  # (B, D, T)
    return model


def phase_randomised(wave: Tensor, gen: torch.Generator | int) -> Tensor:
    """Each clip of ``wave`` ``[B, N]`` with its Fourier phases redrawn from ``gen`` (a generator, or a seed
    for a new one): the same spectrum and no waveform in common."""
    gen = torch.Generator().manual_seed(gen) if isinstance(gen, int) else gen
    w = wave.double()
    spectrum = torch.fft.rfft(w)  # (B, F)
    phase = (torch.rand(spectrum.shape, generator=gen, dtype=torch.float64) * 2 * math.pi).to(w.device)
    phase[:, 0] = 0  # DC stays real
    return torch.fft.irfft(spectrum.abs() * torch.exp(1j * phase), w.shape[1]).to(wave.dtype)  # (B, N)


def phase_randomised_target(seed: int = 0) -> Model:
    """Outputs the target with each Fourier coefficient's phase redrawn (a new draw at every call).

    The positive control: the clip's long-term spectrum without its waveform, so it should pass
    all four tests. Its lagged correlation with the target stays above chance (0.15 on held-out
    clips): a tone at a random phase matches the original at some lag within one period, and
    +-10 ms covers a period of every note above 100 Hz.
    """
    gen = torch.Generator().manual_seed(seed)

    def model(input: Tensor, target: Tensor) -> Tensor:
        return frame(phase_randomised(unframe(target), gen), target.shape[1])
    return model


def white_noise(seed: int = 0) -> Model:
    """Outputs fresh Gaussian white noise at each clip's target RMS (a new draw at every call)."""
    gen = torch.Generator().manual_seed(seed)

    def model(input: Tensor, target: Tensor) -> Tensor:
        noise = torch.randn(target.shape, generator=gen, dtype=torch.float32).to(target)
        level = target.pow(2).mean((1, 2), keepdim=True).sqrt()  # (B, 1, 1)
        return noise * level / noise.pow(2).mean((1, 2), keepdim=True).sqrt()
    return model


# name -> (factory taking the sample rate, the test meant to catch it; "" for none: it should pass all)
CONTROLS: dict[str, tuple[Callable[[int], Model], str]] = {
    "silence": (lambda sr: silence(), "level"),
    "copy of the target": (lambda sr: copy_of_target(), "no_copy"),
    "target shifted 12 samples": (lambda sr: shifted_copy(12), "no_copy"),
    "copy of the input": (lambda sr: copy_of_input(), "no_copy"),
    "half input + half target": (lambda sr: leaky_mix(), "no_copy"),
    "fixed waveform": (lambda sr: fixed_waveform(sr), "input_dependence"),
    "white noise at the target's level": (lambda sr: white_noise(0), "spectral"),
    "phase-randomised target": (lambda sr: phase_randomised_target(0), ""),
}


@dataclass
class SanityRow:
    """One control's score and the test it is meant to fail."""

    control: str
    meant_to_fail: str
    score: RemedyScore

    @property
    def as_expected(self) -> bool:
        """A negative control failed the test meant to catch it; the positive one passed all four."""
        if not self.meant_to_fail:
            return self.score.passed
        return not self.score.tests()[self.meant_to_fail].passed

    def as_dict(self) -> dict[str, str]:
        """A table row: the control, its intended test, and each test's pass/FAIL with values."""
        return ({"control": self.control, "meant to fail": self.meant_to_fail or "none (passes all)"}
                | {k: str(t) for k, t in self.score.tests().items()}
                | {"as expected": "yes" if self.as_expected else "NO"})


def sanity_table(input: Tensor, target: Tensor, sample_rate: int,
                 criteria: RemedyCriteria = REMEDY) -> list[SanityRow]:
    """Score every control of ``CONTROLS`` on ``(input, target)`` ``[B, D, T]``.

    ``pandas.DataFrame([r.as_dict() for r in rows])`` shows it; :func:`sanity_problems` checks it.
    """
    return [SanityRow(name, test, remedy_score(make(sample_rate), input, target, sample_rate, criteria))
            for name, (make, test) in CONTROLS.items()]


def sanity_problems(rows: list[SanityRow]) -> list[str]:
    """What went wrong: negative controls that passed their test, a positive one that failed any."""
    return [f"{r.control} failed {', '.join(r.score.failed)}" if not r.meant_to_fail
            else f"{r.control} passed {r.meant_to_fail}: {r.score.tests()[r.meant_to_fail]}"
            for r in rows if not r.as_expected]
