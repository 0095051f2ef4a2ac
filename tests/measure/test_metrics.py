import math

import numpy as np
import pytest
import torch

from resmix.measure import metrics as M


def test_pearson_matches_numpy():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 300, generator=g), torch.randn(5, 300, generator=g)
    b = b + 0.7 * a
    ours = M.pearson(a, b)
    ref = [np.corrcoef(a[i].numpy(), b[i].numpy())[0, 1] for i in range(5)]
    np.testing.assert_allclose(ours.numpy(), ref, atol=1e-6)


def test_pearson_eps_shrinks_small_signals():
    g = torch.Generator().manual_seed(1)
    a = torch.randn(2, 1000, generator=g)
    b = a + 0.1 * torch.randn(2, 1000, generator=g)
    assert (M.pearson(a * 1e-4, b, eps=1e-3).abs() < 0.5 * M.pearson(a, b).abs()).all()
    assert torch.isnan(M.pearson(torch.ones(1, 10), b[:1, :10])).all()


def test_rms_and_ratio():
    x = torch.full((2, 8), 0.5)
    assert torch.allclose(M.rms(x), torch.tensor([0.5, 0.5]))
    assert torch.allclose(M.rms_ratio_db(x / 32, x), torch.full((2,), -30.103), atol=1e-3)


def test_leak_probe_recovers_known_mix():
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(3, 4000, generator=g), torch.randn(3, 4000, generator=g)
    out = 0.3 * x + 0.6 * y + 0.05 + 0.1 * torch.randn(3, 4000, generator=g)
    p = M.leak_probe(out, x, y)
    assert torch.allclose(p.a, torch.full((3,), 0.3), atol=0.01)
    assert torch.allclose(p.b, torch.full((3,), 0.6), atol=0.01)
    assert torch.allclose(p.c, torch.full((3,), 0.05), atol=0.01)
    assert (p.r2 > 0.95).all() and (p.r2 < 1).all()


def test_flatness_orders_tone_below_noise():
    t = torch.arange(4000) / 8000
    tone = torch.sin(2 * torch.pi * 440 * t)[None]
    noise = torch.randn(1, 4000, generator=torch.Generator().manual_seed(3))
    assert M.spectral_flatness(tone) < 0.1 < 0.5 < M.spectral_flatness(noise)


def test_log_spectral_distance():
    x = torch.randn(2, 2000, generator=torch.Generator().manual_seed(4))
    assert torch.allclose(M.log_spectral_distance(x, x), torch.zeros(2))
    assert torch.allclose(M.log_spectral_distance(x / 10, x), torch.full((2,), 20.0), atol=1e-3)


def test_level_report_reads_like_the_seed():
    y = torch.randn(2, 100)
    text = M.level_report(y / 32, torch.randn(2, 100), y)
    assert "32x quieter than target" in text and "Out→Target=1.000" in text
    assert M.level_meter(1.0, width=10) == "█" * 10 and M.level_meter(1e-6, width=10) == "·" * 10


def test_bad_inputs():
    with pytest.raises(ValueError, match="same shape"):
        M.pearson(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="NaN"):
        M.rms(torch.tensor([[float("nan"), 1.0]]))
    with pytest.raises(ValueError, match="batch dimension"):
        M.rms(torch.zeros(5))
    with pytest.raises(ValueError, match="non-empty"):
        M.rms(torch.zeros(0, 5))


# --- input dependence and hidden copies --------------------------------------------------------

def test_common_share_planted_signals():
    g = torch.Generator().manual_seed(3)
    shared = torch.randn(1, 2000, generator=g).repeat(8, 1)
    indep = torch.randn(8, 2000, generator=g)
    assert float(M.common_share(shared)) == pytest.approx(1.0, abs=1e-6)
    assert float(M.common_share(indep)) == pytest.approx(1 / 8, abs=0.02)
    mixed = shared + indep  # half the power shared
    y = mixed.numpy()
    ref = 8 * (y.mean(0) ** 2).sum() / (y ** 2).sum()  # independent NumPy reference
    assert float(M.common_share(mixed)) == pytest.approx(ref, rel=1e-5)
    assert 0.4 < ref < 0.6
    assert torch.isnan(M.common_share(torch.zeros(4, 10)))
    with pytest.raises(ValueError, match="at least 2 clips"):
        M.common_share(indep[:1])


def test_swap_sensitivity_separates_what_the_output_uses():
    g = torch.Generator().manual_seed(4)
    x, y = torch.randn(6, 8, 20, generator=g), torch.randn(6, 8, 20, generator=g)
    fixed = torch.randn(1, 8, 20, generator=g)
    copy_target = M.swap_sensitivity(lambda i, t: t, x, y)
    assert copy_target.input.abs().max() == 0
    assert torch.allclose(copy_target.target, torch.full((6,), 2 ** 0.5), atol=0.25)
    ignores = M.swap_sensitivity(lambda i, t: (i * 0 + fixed), x, y)
    assert ignores.input.max() == 0 and ignores.target.max() == 0
    mix = M.swap_sensitivity(lambda i, t: (i, 0.5 * (i + t)), x, y)  # tuple: the last item counts
    ref = [np.linalg.norm(0.5 * (x.roll(1, 0)[b] - x[b]).numpy()) / np.linalg.norm(0.5 * (x[b] + y[b]).numpy())
           for b in range(6)]
    np.testing.assert_allclose(mix.input.numpy(), ref, rtol=1e-5)


def _lagged_numpy(a, b, max_lag):
    a, b = a - a.mean(), b - b.mean()
    n = len(a)
    full = np.correlate(a, b, mode="full")  # index n-1+k holds sum_t a[t+k] b[t]
    best = max(range(-max_lag, max_lag + 1), key=lambda k: abs(full[n - 1 + k]))
    return abs(full[n - 1 + best]) / (np.linalg.norm(a) * np.linalg.norm(b)), best


def test_lagged_correlation_finds_a_shifted_copy():
    g = torch.Generator().manual_seed(5)
    y = torch.randn(3, 1000, generator=g)
    delayed = torch.zeros_like(y)
    delayed[:, 12:] = y[:, :-12]
    assert (M.pearson(delayed, y).abs() < 0.1).all()
    lc = M.lagged_correlation(delayed, y, max_lag=40)
    assert (lc.lag == 12).all() and (lc.value > 0.98).all()
    for i in range(3):
        ref_v, ref_lag = _lagged_numpy(delayed[i].double().numpy(), y[i].double().numpy(), 40)
        assert float(lc.value[i]) == pytest.approx(ref_v, rel=1e-4) and int(lc.lag[i]) == ref_lag
    zero_lag = M.lagged_correlation(delayed, y, max_lag=0)
    assert torch.allclose(zero_lag.value, M.pearson(delayed, y).abs(), atol=1e-5)
    flipped = M.lagged_correlation(-y, y, max_lag=5)
    assert (flipped.lag == 0).all() and torch.allclose(flipped.value, torch.ones(3), atol=1e-5)
    framed = M.lagged_correlation(delayed.reshape(3, 40, 25).transpose(1, 2), y.reshape(3, 40, 25).transpose(1, 2), 40)
    assert (framed.lag == 12).all()
    with pytest.raises(ValueError, match="max_lag"):
        M.lagged_correlation(y, y, max_lag=1000)


def test_predicted_abs_correlation_matches_independent_signals():
    g = torch.Generator().manual_seed(6)
    w = torch.randn(1, 3000, generator=g).repeat(300, 1)  # one fixed waveform against many targets
    y = torch.randn(300, 3000, generator=g)
    smooth = lambda s: torch.nn.functional.avg_pool1d(s[:, None], 8, 1, 4)[:, 0, :3000]  # noqa: E731
    for a, b in ((w, y), (smooth(w), smooth(y))):
        measured = float(M.pearson(a, b).abs().mean())
        predicted = float(M.predicted_abs_correlation(a, b).mean())
        assert predicted == pytest.approx(measured, rel=0.15)
    assert float(M.predicted_abs_correlation(smooth(w), smooth(y)).mean()) > 2 * float(
        M.predicted_abs_correlation(w, y).mean())  # correlated samples: fewer effective ones

def test_flatness_of_silence_is_zero_and_level_free():
    assert torch.equal(M.spectral_flatness(torch.zeros(2, 4000)), torch.zeros(2))
    t = torch.arange(4000) / 8000
    tone = torch.sin(2 * torch.pi * 440 * t)[None]
    noise = torch.randn(1, 4000, generator=torch.Generator().manual_seed(3))
    for signal in (tone, noise):  # a quiet copy scores as the loud one (it used to look like noise)
        assert torch.allclose(M.spectral_flatness(1e-6 * signal), M.spectral_flatness(signal), atol=1e-4)
    assert M.spectral_flatness(1e-6 * tone) < 0.1


def test_leak_probe_degenerate_fits_are_nan_with_a_reason():
    g = torch.Generator().manual_seed(5)
    x, y = torch.randn(2, 100, generator=g), torch.randn(2, 100, generator=g)
    for out in (torch.full((2, 100), 0.3), torch.zeros(2, 100)):  # used to read r2 = -inf, or 1.0
        with pytest.warns(M.DegenerateFitWarning, match=r"items \[0, 1\]: the output is constant"):
            p = M.leak_probe(out, x, y)
        assert torch.isnan(p.r2).all() and torch.allclose(p.c, out[:, 0])
    with pytest.warns(M.DegenerateFitWarning, match="linearly dependent"):
        p = M.leak_probe(x + y, x, 2 * x)  # a and b cannot be told apart
    assert torch.isnan(p.a).all() and torch.isfinite(p.r2).all()
    with pytest.raises(ValueError, match="at least 4 samples"):
        M.leak_probe(x[:, :2], x[:, :2], y[:, :2])  # used to read r2 = 1.0


def _pair(n=4, length=1024, seed=3):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, length, generator=g)
    return a, 0.6 * a.roll(7, 1) + torch.randn(n, length, generator=g)  # correlated, with a lagged copy


@pytest.mark.parametrize("level", [1e-18, 1e-22, 1e-30, 1e20])
def test_scale_free_metrics_read_a_quiet_or_loud_signal_as_its_copy_at_unit_level(level):
    """Regression (issue 20): at RMS <= 1e-22 float32 squares underflowed: rms read 0 for a non-zero
    signal, pearson(eps=0) inf, lagged_correlation up to 1e9 (documented in [0, 1]),
    predicted_abs_correlation was wrong already at 1e-18. A collapsing run's outputs go there."""
    a, b = _pair()
    q = a * level
    torch.testing.assert_close(M.rms(q) / level, M.rms(a), rtol=1e-5, atol=0)
    torch.testing.assert_close(M.pearson(q, b), M.pearson(a, b), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(M.pearson(q, q * 0.5 + level * b), M.pearson(a, a * 0.5 + b), rtol=1e-5, atol=1e-6)
    lag, ref = M.lagged_correlation(q, b, 20), M.lagged_correlation(a, b, 20)
    assert (lag.value <= 1 + 1e-6).all() and torch.equal(lag.lag, ref.lag)
    torch.testing.assert_close(lag.value, ref.value, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(M.predicted_abs_correlation(q, b), M.predicted_abs_correlation(a, b), rtol=1e-5, atol=0)
    torch.testing.assert_close(M.common_share(q), M.common_share(a), rtol=1e-5, atol=0)
    torch.testing.assert_close(M.log_spectral_distance(q * 0.5, q), M.log_spectral_distance(a * 0.5, a), rtol=1e-5, atol=1e-5)


def test_pearson_with_eps_keeps_its_meaning_for_quiet_signals():
    """eps is compared with s_a * s_b in the signal's own units: a quiet pair's correlation falls to 0."""
    a, b = _pair()
    s = 1e-3 * a.std(-1, correction=0) * b.std(-1, correction=0)
    torch.testing.assert_close(M.pearson(a * 1e-3, b, eps=1e-3), M.pearson(a, b) * s / (s + 1e-3), rtol=1e-4, atol=1e-6)
    assert (M.pearson(a * 1e-30, b * 1e-30, eps=1e-8) == 0).all()  # s = 1e-60 against eps = 1e-8
    assert torch.isnan(M.pearson(torch.zeros(1, 10), b[:1, :10])).all()  # 0/0 stays NaN without eps


def test_rms_of_denormal_and_zero_items():
    x = torch.tensor([[3e-40, -3e-40, 3e-40, -3e-40], [0.0, 0.0, 0.0, 0.0]])
    r = M.rms(x)
    assert r[0] > 0 and abs(float(r[0]) / 3e-40 - 1) < 1e-3 and r[1] == 0


def test_swap_sensitivity_of_a_quiet_model_is_that_of_its_loud_copy():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(4, 32, 8, generator=g), torch.randn(4, 32, 8, generator=g)
    loud = M.swap_sensitivity(lambda a, b: a + 0.5 * b, x, y)
    quiet = M.swap_sensitivity(lambda a, b: 1e-30 * (a + 0.5 * b), x, y)
    torch.testing.assert_close(quiet.input, loud.input, rtol=1e-5, atol=0)
    torch.testing.assert_close(quiet.target, loud.target, rtol=1e-5, atol=0)


def test_level_meter_and_spectra_refuse_what_they_cannot_read():
    """Probe (issue 20): level_meter(nan) failed with "cannot convert float NaN to integer"; n_fft=3.5 with a
    torch TypeError about hann_window."""
    with pytest.raises(ValueError, match="level must be an RMS level >= 0; got nan"):
        M.level_meter(float("nan"))
    for n_fft in (0, 3.5, True):
        with pytest.raises(ValueError, match=r"n_fft must be an integer >= 4"):
            M.log_spectral_distance(torch.randn(2, 512), torch.randn(2, 512), n_fft)


def test_band_envelope_finds_a_tone_and_the_distance_ignores_level():
    sr, n = 8000, 1024
    t = torch.arange(n) / sr
    tone = torch.sin(2 * math.pi * 1000 * t)[None]
    env = M.band_envelope(tone, sr)
    edges = torch.logspace(math.log10(125), math.log10(sr / 2), 13)
    assert int(env.argmax()) == int(torch.bucketize(torch.tensor(1000.0), edges, right=True)) - 1
    noise = torch.randn(2, n, generator=torch.Generator().manual_seed(0))
    e = M.band_envelope(noise, sr)
    assert torch.allclose(M.envelope_distance(e, M.band_envelope(7.0 * noise, sr)), torch.zeros(2), atol=1e-4)
    assert (M.envelope_distance(M.band_envelope(tone.expand(2, -1), sr), e) > 10).all()
    with pytest.raises(ValueError, match="sample_rate must be a positive integer"):
        M.band_envelope(noise, 0)


def test_band_envelope_of_a_quiet_clip_is_its_loud_copy_lowered():
    """Probe (issue 20): the band envelope's float32 spectrum underflowed for a clip at RMS 1e-23: every
    band read as one floor, so envelope_distance, documented as level-free, compared floors."""
    from resmix.data.synthetic import make_pairs
    x, y = make_pairs(4)
    loud, quiet = M.band_envelope(x, 8000), M.band_envelope(x * 1e-22, 8000)
    torch.testing.assert_close(quiet, loud - 440.0, rtol=0, atol=1e-3)
    torch.testing.assert_close(M.envelope_distance(quiet, M.band_envelope(y * 1e-22, 8000)),
                               M.envelope_distance(loud, M.band_envelope(y, 8000)), rtol=0, atol=1e-3)


def test_chroma_puts_a_tone_and_its_octaves_on_its_pitch_class_and_sums_to_one():
    from resmix.measure.metrics import chroma
    t = torch.arange(8192, dtype=torch.float64) / 8000
    a = torch.stack([torch.sin(2 * torch.pi * f * t) for f in (220.0, 440.0, 880.0)]).float()  # A3, A4, A5
    c = torch.stack([torch.sin(2 * torch.pi * 261.63 * t)]).float()  # C4: three semitones above A
    ca, cc = chroma(a, 8000), chroma(c, 8000)
    assert ca.shape == (3, 12) and torch.allclose(ca.sum(-1), torch.ones(3))
    assert (ca.argmax(-1) == 0).all() and (ca[:, 0] > 0.9).all()
    assert int(cc.argmax()) == 3
    assert torch.allclose(chroma(a * 1e-20, 8000), ca, atol=1e-5)  # level-free, no underflow
    assert torch.equal(chroma(torch.zeros(2, 4096), 8000), torch.full((2, 12), 1 / 12))  # silence: uniform


def test_chroma_refuses_bad_arguments_by_name():
    from resmix.measure.metrics import chroma
    with pytest.raises(ValueError, match="sample_rate must be a positive integer"):
        chroma(torch.zeros(2, 4096), 8000.0)
    with pytest.raises(ValueError, match="0 < low_hz < high_hz"):
        chroma(torch.zeros(2, 4096), 8000, low_hz=500, high_hz=100)
    with pytest.raises(ValueError, match=r"\[B, N\]"):
        chroma(torch.zeros(4096), 8000)


def test_chroma_on_a_short_clip_misplaces_a_low_note_unless_its_frames_are_padded():
    """The book's 1,024-sample clips give 7.8 Hz bins: a G2 (98 Hz, class 10) falls between classes; padding finds it."""
    from resmix.measure.metrics import chroma
    t = torch.arange(1024, dtype=torch.float64) / 8000
    g2 = torch.sin(2 * torch.pi * 98.0 * t)[None].float()
    plain, padded = chroma(g2, 8000), chroma(g2, 8000, pad_to=8192)
    assert plain[0, 10] < 0.05 and int(plain.argmax()) != 10  # the registered default: the known defect
    assert int(padded.argmax()) == 10
    a4 = torch.sin(2 * torch.pi * 440.0 * t)[None].float()
    assert int(chroma(a4, 8000).argmax()) == 0 and chroma(a4, 8000)[0, 0] > 0.8  # a note at 440 Hz: right unpadded
    torch.testing.assert_close(chroma(a4, 8000, pad_to=1024), chroma(a4, 8000))  # no padding below the frame
    with pytest.raises(ValueError, match="power of two"):
        chroma(a4, 8000, pad_to=3000)
