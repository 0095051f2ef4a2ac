import pytest
import sympy as sp
import torch

from resmix.config import ModelConfig
from resmix.data.framing import frame
from resmix.data.synthetic import make_pairs, mix_correlated
from resmix.measure import algebra
from resmix.measure.metrics import leak_probe, pearson, rms
from resmix.models.two_stage import TwoStageModel


def test_seed_stages_are_exactly_half_half():
    half = sp.Rational(1, 2)
    for c in algebra.leak_coefficients(5):
        assert (c.a_input, c.b_target) == (half, half)
    assert algebra.fixed_point() == (half, half)


def test_other_start_converges_with_ratio_one_third():
    cs = algebra.leak_coefficients(6, stage1=(1, 0))
    gaps = [c.a_input - sp.Rational(1, 2) for c in cs]
    assert all(g2 / g1 == sp.Rational(1, 3) for g1, g2 in zip(gaps, gaps[1:]))
    assert cs[1].a_input == sp.Rational(2, 3)


def test_seed_rounding_gives_49_5_not_50():
    third = sp.Rational(33, 100)
    rounded = third + third * sp.Rational(1, 2)
    exact = algebra.leak_coefficients(2)[1].a_input
    assert rounded == sp.Rational(495, 1000) and exact == sp.Rational(1, 2)


def test_predicted_correlation_values():
    assert abs(algebra.predicted_correlation(0.5, 0.5) - 2 ** -0.5) < 1e-12
    # unequal RMS: b sY / sqrt(a^2 sX^2 + b^2 sY^2) = 1 / sqrt(1 + 4) for sX = 2 sY
    assert abs(algebra.predicted_correlation(0.5, 0.5, rms_input=2.0) - 5 ** -0.5) < 1e-12
    assert abs(algebra.predicted_correlation(0.5, 0.5, rho=1.0) - 1.0) < 1e-12


def test_algebra_matches_the_model():
    x, y = make_pairs(16, seed=5)
    for rho in (0.0, 0.5):
        y2 = mix_correlated(x, y, rho) if rho else y
        model = TwoStageModel(ModelConfig(residual="leaky", zero_init_output=True))
        with torch.no_grad():
            _, out = model(frame(x, 32), frame(y2, 32))
        c = algebra.leak_coefficients(2)[1]
        probe = leak_probe(out, frame(x, 32), frame(y2, 32)).means()
        assert abs(probe["a"] - float(c.a_input)) < 1e-5 and abs(probe["b"] - float(c.b_target)) < 1e-5
        measured = float(pearson(out, frame(y2, 32)).mean())
        r_xy = float(pearson(x, y2).mean())
        predicted = algebra.predicted_correlation(0.5, 0.5, float(rms(x).mean()), float(rms(y2).mean()), r_xy)
        assert abs(measured - predicted) < 0.02


def test_mix_sweep_measures_what_the_formula_predicts():
    torch.manual_seed(0)
    x, y = torch.randn(8, 4096), torch.randn(8, 4096)
    x, y = x / x.pow(2).mean(-1, keepdim=True).sqrt(), y / y.pow(2).mean(-1, keepdim=True).sqrt()  # equal RMS
    s = algebra.mix_sweep(x, y, [0.0, 0.5, 1.0], [-0.6, 0.0, 0.6])
    assert len(s.predicted) == len(s.measured) == 3 and all(len(row) == 3 for row in s.predicted)
    for r, rho, pred, meas in zip(s.correlations, s.input_corr, s.predicted, s.measured):
        assert abs(rho - r) < 0.05  # the remixed target correlates r with the input
        assert pred[0] == pytest.approx(rho) and pred[2] == pytest.approx(1.0)  # w = 0: the input; w = 1: T
        assert max(abs(p - m) for p, m in zip(pred, meas)) < 0.03
    with pytest.raises(ValueError, match=r"weights must lie in \[0, 1\]"):
        algebra.mix_sweep(x, y, [1.5], [0.0])
