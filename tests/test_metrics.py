import numpy as np
import pytest
import torch

from resmix import metrics as M


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
