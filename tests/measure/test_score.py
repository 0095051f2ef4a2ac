import dataclasses

import pytest
import torch

from resmix.config import DataConfig, ModelConfig
from resmix.criteria import REMEDY
from resmix.data.framing import frame
from resmix.data.sources import held_out
from resmix.measure import score
from resmix.measure.score import (
    CONTROLS,
    copy_of_target,
    fixed_waveform,
    remedy_score,
    sanity_problems,
    sanity_table,
    shifted_copy,
    silence,
    white_noise,
)
from resmix.models.two_stage import TwoStageModel

SR = 8000


@pytest.fixture(scope="module")
def clips():
    """Held-out pairs, short: 16 clips of 0.256 s (the score uses every other clip as chance)."""
    return tuple(frame(w, 32) for w in held_out(DataConfig(clip_seconds=0.256, n_val=16)))


@pytest.fixture(scope="module")
def table(clips):
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # small FFTs: a second thread only waits on a busy machine
    try:
        return {r.control: r for r in sanity_table(*clips, SR)}
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("control, test", [(n, t) for n, (_, t) in CONTROLS.items() if t])
def test_each_control_fails_the_test_meant_to_catch_it(table, control, test):
    row = table[control]
    assert not row.score.tests()[test].passed, f"{control}: {row.score.tests()[test]}"
    assert row.as_expected and row.as_dict()["as expected"] == "yes"


def test_the_positive_control_passes_everything_and_no_problems(table):
    assert table["phase-randomised target"].score.passed
    assert sanity_problems(list(table.values())) == []


def test_the_tests_catch_what_they_are_for(table):
    """Not only the intended failure: the values behind it are far from the limits."""
    assert table["silence"].score.level.values["level_db"] < -100
    copy = table["copy of the target"].score
    assert copy.failed == ["no_copy"] and copy.no_copy.values["excess_target"] > 0.6
    assert table["target shifted 12 samples"].score.no_copy.values["lag_corr_target"] > 0.99
    fixed = table["fixed waveform"].score.input_dependence.values
    assert fixed["swap_input"] == 0 and fixed["swap_target"] == 0 and fixed["common_share"] == pytest.approx(1.0)
    noise = table["white noise at the target's level"].score
    assert noise.failed == ["spectral"] and abs(noise.spectral.values["lsd_gain"]) < 0.5


def test_controls_are_models_on_frames(clips):
    x, y = clips
    assert torch.equal(copy_of_target()(x, y), y) and silence()(x, y).abs().max() == 0
    w, s = y.transpose(1, 2).reshape(y.shape[0], -1), shifted_copy(12)(x, y).transpose(1, 2).reshape(y.shape[0], -1)
    assert torch.equal(s[:, 12:], w[:, :-12]) and s[:, :12].abs().max() == 0
    f = fixed_waveform(SR)(x, y)
    assert torch.equal(f[0], f[-1])  # one waveform for every clip
    gen = white_noise(0)
    assert not torch.equal(gen(x, y), gen(x, y))  # fresh noise at every call


def test_a_model_goes_through_the_same_code_and_keeps_its_mode(clips):
    x, y = clips
    torch.manual_seed(0)
    model = TwoStageModel(ModelConfig(d_model=16, n_layers=1, n_heads=2, residual="none")).train()
    score = remedy_score(model, x[:4], y[:4], SR)
    assert model.training and set(score.tests()) == {"level", "input_dependence", "no_copy", "spectral"}
    assert all(t.rule and t.values for t in score.tests().values())


def test_thresholds_come_from_the_criteria(clips):
    x, y = (t[:4] for t in clips)
    wide = dataclasses.replace(REMEDY, level_band_db=300.0)
    assert not remedy_score(silence(), x, y, SR).level.passed
    assert remedy_score(silence(), x, y, SR, wide).level.passed
    with pytest.raises(ValueError, match="at least 2 clips"):
        remedy_score(silence(), x[:1], y[:1], SR)


def test_quiet_noise_fails_the_level_test_only_for_its_level(clips):
    """Regression (issue 20): white noise at RMS 1e-30 failed no_copy with a "correlation" of 7.7."""
    noise = white_noise(0)
    score = remedy_score(lambda x, y: noise(x, y) * 1e-29, *clips, SR)
    assert not score.level.passed and score.no_copy.passed and score.input_dependence.passed
    assert 0 <= score.no_copy.values["lag_corr_target"] <= 1 and 0 <= score.no_copy.values["lag_corr_input"] <= 1
    assert score.input_dependence.values["common_share"] < 0.2


@pytest.mark.parametrize("rate", [0, -8000, 8000.5, "8000", True])
def test_remedy_score_refuses_a_sample_rate_that_is_not_a_positive_integer(clips, rate):
    """Regression (issue 20): sample_rate 0 or negative was accepted (a lag window of one sample)."""
    with pytest.raises(ValueError, match=r"sample_rate must be a positive integer \(Hz\)"):
        remedy_score(copy_of_target(), *clips, rate)


def test_a_model_output_of_the_wrong_shape_or_not_finite_is_named(clips):
    """Probe (issue 20): a diverged (NaN) model failed inside rms with "x contains NaN"; a wrong shape as a
    mismatch of two unnamed waveforms."""
    with pytest.raises(ValueError, match=r"the model must return \[B, D, T\] like its target \[16, 32, 64\]; got \[16, 32, 63\]"):
        remedy_score(lambda x, y: y[..., :-1], *clips, SR)
    with pytest.raises(ValueError, match="the model's output holds NaN or infinite values"):
        remedy_score(lambda x, y: y * float("nan"), *clips, SR)


def test_version_2_passes_its_positive_control_on_both_data_seeds_and_every_profile():
    """Version 2 (issue 16): envelope spectral test and surrogate chance level; every control as expected."""
    import dataclasses

    from resmix.config import get_profile
    from resmix.criteria import REMEDY_V2
    from resmix.data.framing import frame
    from resmix.data.sources import held_out
    for profile in ("quick", "t4"):
        for seed in (1234, 2234):
            cfg = dataclasses.replace(get_profile(profile).data, seed=seed)
            x, y = (frame(w, cfg.frame_size) for w in held_out(cfg))
            assert score.sanity_problems(score.sanity_table(x, y, cfg.sample_rate, REMEDY_V2)) == [], (profile, seed)


def test_surrogates_keep_the_spectrum_and_lose_the_waveform():
    g = torch.Generator().manual_seed(0)
    w = torch.nn.functional.avg_pool1d(torch.randn(3, 1, 1026, generator=g), 3, 1)[:, 0]  # a coloured spectrum
    s = score.phase_randomised(w - w.mean(-1, keepdim=True), 5)
    spec = lambda v: torch.fft.rfft(v.double()).abs()[:, 1:-1]  # noqa: E731  (DC and Nyquist are real)
    assert torch.allclose(spec(s), spec(w - w.mean(-1, keepdim=True)), rtol=1e-4, atol=1e-3)
    assert torch.equal(s, score.phase_randomised(w - w.mean(-1, keepdim=True), 5))  # a seed: reproducible
    from resmix.measure.metrics import pearson
    assert (pearson(s, w).abs() < 0.5).all()


def test_version_3_passes_its_positive_control_and_fails_every_negative_one_on_both_data_seeds():
    """Version 3 (the fourth registration): the harmony test; every control as expected, quick and t4."""
    from resmix.config import get_profile
    from resmix.criteria import REMEDY_V3
    for profile in ("quick", "t4"):
        for seed in (1234, 2234):
            cfg = dataclasses.replace(get_profile(profile).data, seed=seed)
            x, y = (frame(w, cfg.frame_size) for w in held_out(cfg))
            rows = score.sanity_table(x, y, cfg.sample_rate, REMEDY_V3)
            assert score.sanity_problems(rows) == [], (profile, seed)
            noise = next(r for r in rows if r.control.startswith("white noise")).score.spectral
            assert not noise.passed and noise.values["harmony_gain"] < REMEDY_V3.harmony_margin


def test_the_harmony_test_passes_an_output_in_another_register_with_the_clips_pitch_classes():
    """What version 2's envelope cannot: an octave below the target, other timbre, same pitch classes, passes."""
    from resmix.criteria import REMEDY_V2, REMEDY_V3
    from resmix.data.framing import unframe
    B, N = 16, 4096
    t = torch.arange(N, dtype=torch.float64) / SR
    g = torch.Generator().manual_seed(3)
    f0 = 220 * 2 ** (torch.randint(0, 12, (B, 2), generator=g).double() / 12)  # two notes per clip
    y = sum(torch.sin(2 * torch.pi * f0[:, i:i + 1] * 2 * t) for i in range(2)).float() * 0.1  # (B, N): the target
    x = torch.sin(2 * torch.pi * f0[:, :1] * 4 * t).float() * 0.1  # the input: the first note two octaves up
    answer = sum(torch.sign(torch.sin(2 * torch.pi * f0[:, i:i + 1] * t)) for i in range(2)).float() * 0.05  # square waves, an octave down

    def model(inp, tgt):
        rows = [int(torch.argmin((unframe(tgt)[:, None] - y[None]).abs().sum(-1)[j])) for j in range(len(tgt))]
        return frame(answer[rows], 32)

    v3 = remedy_score(model, frame(x, 32), frame(y, 32), SR, REMEDY_V3).spectral
    assert v3.passed and v3.values["harmony_p"] <= 0.01, v3
    shuffled = remedy_score(lambda inp, tgt: model(inp, tgt).roll(1, 0), frame(x, 32), frame(y, 32), SR, REMEDY_V3).spectral
    assert not shuffled.passed, shuffled  # the same answers given to the wrong clips fail
    with pytest.raises(ValueError, match="'lsd', 'envelope' or 'chroma'"):
        remedy_score(model, frame(x, 32), frame(y, 32), SR, dataclasses.replace(REMEDY_V2, spectral_measure="mfcc"))
