import numpy as np
import pytest
import torch

from resmix.config import LossConfig
from resmix.data.framing import frame
from resmix.data.synthetic import make_pairs
from resmix.losses import correlation, objective, reconstruction
from resmix.models.two_stage import StageOutputs

SR = 8000


@pytest.fixture(scope="module")
def pair():
    return make_pairs(4, seed=7)


def test_mrstft_zero_for_identical_and_blind_to_sign(pair):
    _, y = pair
    assert reconstruction.mrstft_loss(y, y, SR) == 0
    assert reconstruction.mrstft_loss(-y, y, SR) < 1e-6


def test_mrstft_noise_costs_more_than_a_one_sample_shift(pair):
    _, y = pair
    noise = torch.randn(y.shape, generator=torch.Generator().manual_seed(0))
    noise = noise * y.pow(2).mean(-1, keepdim=True).sqrt()
    shifted = torch.roll(y, 1, dims=-1)
    assert reconstruction.mrstft_loss(shifted, y, SR) < 0.2 * reconstruction.mrstft_loss(noise, y, SR)


def test_mrstft_accepts_framed_tensors(pair):
    x, y = pair
    assert torch.allclose(reconstruction.mrstft_loss(frame(x, 32), frame(y, 32), SR), reconstruction.mrstft_loss(x, y, SR))


def test_resolutions_scale_with_sample_rate():
    assert reconstruction.stft_resolutions(24000) == [(1024, 120, 600), (2048, 240, 1200), (256, 50, 240)]
    assert reconstruction.stft_resolutions(8000)[0] == (256, 40, 200)


def test_anti_correlation_and_novelty(pair):
    x, y = (frame(w, 32) for w in pair)
    assert abs(correlation.anti_correlation(y, y, 0.0) - 1) < 1e-6
    assert abs(correlation.anti_correlation(-y, y, 0.0) - 1) < 1e-6
    assert correlation.novelty(x, [y, x], 0.0) > 0.999
    assert correlation.novelty(y, [x], 0.0) < 0.2


def test_variance_hinge_forbids_silence(pair):
    _, y = pair
    assert objective.variance_hinge(y, y, 1.0, eps=0) < 1e-6
    assert objective.variance_hinge(torch.zeros_like(y), y, 1.0) > 0.09


def test_compute_losses_weights_and_reports_every_term(pair):
    x, y = (frame(w, 32) for w in pair)
    parts = StageOutputs(x, x, x, 0.5 * (x + y))
    cfg = LossConfig(anti_correlation=2.0, novelty=0.5, reconstruction=0.1, recon_kind="mse")
    t = objective.compute_losses(parts, x, y, cfg, SR)
    assert set(t.items()) == {"anti_correlation", "novelty", "reconstruction", "variance", "total"}
    expected = 2.0 * t.anti_correlation + 0.5 * t.novelty + 0.1 * t.reconstruction
    assert torch.allclose(t.total, expected)


def test_bad_kind():
    with pytest.raises(ValueError, match="'mse' or 'mrstft'"):
        reconstruction.reconstruction(torch.zeros(1, 2, 3), torch.zeros(1, 2, 3), "l1", SR)
    with pytest.raises(ValueError, match="recon_kind"):
        LossConfig(recon_kind="l1")


def test_reconstruction_reference():
    from resmix.losses.reconstruction import reconstruction_reference
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(2, 3, 2000, generator=g), torch.randn(2, 3, 2000, generator=g)
    assert reconstruction_reference(x, y, "target") is y
    assert torch.equal(reconstruction_reference(x, y, "negated"), -y)
    d = reconstruction_reference(x, y, "difference")
    from resmix.measure.metrics import pearson as _p
    assert (_p(d, 0.5 * (x + y)).abs() < 0.05).all()
    p = reconstruction_reference(x, y, "product")
    assert torch.allclose(p.pow(2).mean((1, 2)).sqrt(), y.pow(2).mean((1, 2)).sqrt())
    assert torch.allclose(p / (x * y), (p / (x * y))[:, :1, :1].expand_as(p), rtol=1e-4)  # a per-clip rescaling
    from resmix.measure.metrics import pearson
    assert (pearson(p, y).abs() < 0.05).all() and (pearson(p, x).abs() < 0.05).all()
    with pytest.raises(ValueError, match="recon_reference"):
        LossConfig(recon_reference="shifted")


def _np_pearson(a, b, eps):
    a, b = a - a.mean(), b - b.mean()
    return (a * b).mean() / (np.sqrt((a ** 2).mean()) * np.sqrt((b ** 2).mean()) + eps)


@pytest.mark.parametrize("eps", [0.0, 1e-3])
def test_correlation_axes_against_numpy(pair, eps):
    x, y = (frame(w, 32) for w in pair)  # (B, D, T)
    a, b = x.double().numpy(), (0.3 * x + y).double().numpy()
    B, D, T = a.shape
    clip = [_np_pearson(a[i], b[i], eps) for i in range(B)]
    per_frame = [[_np_pearson(a[i, :, t], b[i, :, t], eps) for t in range(T)] for i in range(B)]
    pooled = _np_pearson(a, b, eps)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    assert correlation.correlations(ta, tb, eps, "clip").numpy() == pytest.approx(clip, rel=1e-5)
    assert correlation.correlations(ta, tb, eps, "frame").numpy() == pytest.approx(np.ravel(per_frame), rel=1e-4)
    assert correlation.correlations(ta, tb, eps, "batch").numpy() == pytest.approx([pooled], rel=1e-5)
    assert float(correlation.anti_correlation(ta, tb, eps, "frame")) == pytest.approx(np.abs(per_frame).mean(), rel=1e-4)
    nov = np.maximum(np.abs(per_frame), [[abs(_np_pearson(a[i, :, t], a[i, :, t], eps)) for t in range(T)]
                                          for i in range(B)]).mean()
    assert float(correlation.novelty(ta, [tb, ta], eps, "frame")) == pytest.approx(nov, rel=1e-4)


def test_correlation_definitions_differ_and_frame_needs_frames(pair):
    x, y = (frame(w, 32) for w in pair)
    loud = torch.arange(1, x.shape[0] + 1.0)[:, None, None]  # clips at different levels: pooling weighs them
    out = (0.2 * y + x) * loud
    values = {ax: float(correlation.anti_correlation(out, y, 1e-8, ax)) for ax in ("clip", "frame", "batch")}
    assert len({round(v, 4) for v in values.values()}) == 3
    with pytest.raises(ValueError, match="per-frame correlations need model tensors"):
        correlation.correlations(pair[0], pair[1], 0.0, "frame")
    with pytest.raises(ValueError, match="axes must be one of"):
        correlation.correlations(x, y, 0.0, "time")


def test_default_correlation_keeps_the_old_numbers(pair):
    """corr_axes="clip" is exactly 0.2.0's loss: the batch mean of per-clip |pearson|."""
    from resmix.measure.metrics import pearson
    x, y = (frame(w, 32) for w in pair)
    torch.manual_seed(0)
    o1, o2 = 0.5 * x + 0.1 * torch.randn_like(x), 0.3 * y - 0.2 * x + 0.1 * torch.randn_like(x)
    parts = StageOutputs(o1, o1, o2, o2)
    terms = objective.compute_losses(parts, x, y, LossConfig(eps=1e-3), SR)
    assert LossConfig().corr_axes == "clip"
    assert torch.equal(terms.anti_correlation, pearson(o2, y, 1e-3, finite=False).abs().mean())
    old_novelty = torch.stack([pearson(o2, r, 1e-3, finite=False).abs() for r in (x, o1)]).max(0).values.mean()
    assert torch.equal(terms.novelty, old_novelty)
    framed = objective.compute_losses(parts, x, y, LossConfig(eps=1e-3, corr_axes="frame"), SR)
    assert not torch.equal(framed.anti_correlation, terms.anti_correlation)


@pytest.mark.parametrize("rate", [0, -8000, 8000.0, "8000"])
def test_mrstft_loss_refuses_a_sample_rate_that_is_not_a_positive_integer(rate):
    """Regression (issue 20): sample_rate 0 or negative was accepted (every window at its 16-sample floor)."""
    from resmix.losses.reconstruction import mrstft_loss
    x = torch.randn(2, 2048)
    with pytest.raises(ValueError, match=r"sample_rate must be a positive integer \(Hz\)"):
        mrstft_loss(x, x, rate)


def test_a_gain_on_the_output_is_a_larger_epsilon(pair):
    """rho_eps(g u, t) = rho_{eps/g}(u, t), and rho_eps(g u2, g u1) = rho_{eps/g^2}(u2, u1): losses and
    gradients of an output g*u at eps equal those of u at eps/g (eps/g^2 for stage 1's gained output)."""
    x, y = (frame(w, 32) for w in pair)
    g_ = torch.Generator().manual_seed(0)
    u1, u2 = (torch.randn(x.shape, generator=g_) for _ in range(2))
    gain, eps = 0.0453, 0.01
    for axes in ("clip", "frame", "batch"):
        a = u2.clone().requires_grad_()
        b = u2.clone().requires_grad_()
        ac_gained = correlation.anti_correlation(gain * a, y, eps, axes)
        ac_plain = correlation.anti_correlation(b, y, eps / gain, axes)
        assert float(ac_gained) == pytest.approx(float(ac_plain), rel=1e-5)
        ga, = torch.autograd.grad(ac_gained, a)
        gb, = torch.autograd.grad(ac_plain, b)
        assert torch.allclose(ga, gb, rtol=1e-4, atol=1e-9)
        rho_gained = correlation.correlations(gain * u2, gain * u1, eps, axes)
        assert torch.allclose(rho_gained, correlation.correlations(u2, u1, eps / gain ** 2, axes), rtol=1e-4, atol=1e-7)
    parts = StageOutputs(gain * u1, gain * u1, gain * u2, gain * u2)
    nov = objective.compute_losses(parts, x, y, LossConfig(eps=eps), SR).novelty
    expected = torch.stack([correlation.correlations(u2, x, eps / gain).abs(), correlation.correlations(u2, u1, eps / gain ** 2).abs()]).max(0).values.mean()
    assert float(nov) == pytest.approx(float(expected), rel=1e-5)


def test_novelty_readings(pair):
    x, y = (frame(w, 32) for w in pair)
    out = 0.6 * x + 0.2 * y
    o1 = y.clone()
    parts = StageOutputs(o1, o1, out, out)
    rho_x, rho_1 = (float(correlation.correlations(out, r, 1e-8).abs().mean()) for r in (x, o1))
    per_clip = torch.stack([correlation.correlations(out, r, 1e-8).abs() for r in (x, o1)])
    cases = {("max", "input+output1"): float(per_clip.max(0).values.mean()),
             ("mean", "input+output1"): (rho_x + rho_1) / 2, ("max", "input"): rho_x, ("mean", "input"): rho_x}
    for (reduce, refs), value in cases.items():
        cfg = LossConfig(novelty_reduce=reduce, novelty_refs=refs)
        assert float(objective.compute_losses(parts, x, y, cfg, SR).novelty) == pytest.approx(value, rel=1e-5), (reduce, refs)
    with pytest.raises(ValueError, match="novelty_reduce"):
        LossConfig(novelty_reduce="min")


def test_epsilon_pull_against_numpy(pair):
    x, y = (frame(w, 32) for w in pair)
    out = 0.05 * x  # a quiet output: s_o s_t is about 0.005 * 0.1
    table = objective.LossTable.of([LossConfig(eps=1e-3), LossConfig(eps=1e-3, corr_axes="batch")])
    ratio, pull = objective.epsilon_pull(torch.stack([out, out]), torch.stack([y, y]), table)
    o, t = out.reshape(out.shape[0], -1).double().numpy(), y.reshape(y.shape[0], -1).double().numpy()
    s = o.std(-1) * t.std(-1)
    assert float(ratio[0]) == pytest.approx(1e-3 / s.mean(), rel=1e-4)
    assert float(pull[0]) == pytest.approx(np.mean(1e-3 / (s + 1e-3)), rel=1e-4)
    pooled = o.std() * t.std()
    assert float(ratio[1]) == pytest.approx(1e-3 / pooled, rel=1e-4)


def test_a_lagged_penalty_sees_a_shifted_copy_that_zero_lag_misses(pair):
    _, y = pair
    t = frame(y, 32)
    shifted = frame(torch.roll(y, 12, dims=-1), 32)  # a copy 12 samples (1.5 ms) late
    zero = float(correlation.anti_correlation(shifted, t, 1e-8))
    lagged = float(correlation._anti_correlation(shifted[None], t[None], 1e-8, "clip", max_lag=80)[0])
    assert lagged > 0.9 and lagged > 3 * zero
    from resmix.measure.metrics import lagged_correlation
    ref = lagged_correlation(torch.roll(y, 12, dims=-1), y, 80).value.mean()
    assert lagged == pytest.approx(float(ref), rel=1e-4)  # the score's measure, with eps
    with pytest.raises(ValueError, match="corr_lag_seconds > 0 needs corr_axes='clip'"):
        LossConfig(corr_lag_seconds=0.01, corr_axes="frame")
    cfg = LossConfig(corr_lag_seconds=0.01)
    parts = StageOutputs(shifted, shifted, shifted, shifted)
    assert float(objective.compute_losses(parts, t, t, cfg, SR).anti_correlation) == pytest.approx(lagged, rel=1e-5)
