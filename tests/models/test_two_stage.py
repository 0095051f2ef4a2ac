import dataclasses

import pytest
import torch

from resmix.config import ModelConfig
from resmix.data.framing import frame
from resmix.data.synthetic import make_pairs
from resmix.models.two_stage import TwoStageModel


def _batch(B=4, D=32):
    x, y = make_pairs(B, seed=3)
    return frame(x, D), frame(y, D)


@pytest.mark.parametrize("residual", ["leaky", "none"])
def test_shapes(residual):
    x, y = _batch()
    o1, o2 = TwoStageModel(ModelConfig(residual=residual, d_model=16, n_heads=2))(x, y)
    assert o1.shape == x.shape and o2.shape == x.shape


def test_zero_learning_leaky_is_exact_half_mix():
    x, y = _batch()
    model = TwoStageModel(ModelConfig(residual="leaky", zero_init_output=True))
    p = model.parts(x, y)
    assert torch.allclose(p.output1, 0.5 * (x + y), atol=1e-6)
    assert torch.allclose(p.output2, 0.5 * (x + y), atol=1e-6)
    assert p.branch1.abs().max() == 0 and p.branch2.abs().max() == 0


def test_zero_learning_fixed_is_exact_zero():
    x, y = _batch()
    o1, o2 = TwoStageModel(ModelConfig(residual="none", zero_init_output=True))(x, y)
    assert o1.abs().max() == 0 and o2.abs().max() == 0


def test_leaky_adds_the_seed_averages_to_the_branches():
    x, y = _batch()
    p = TwoStageModel(ModelConfig(residual="leaky")).parts(x, y)
    assert torch.allclose(p.output1, p.branch1 + 0.5 * (x + y), atol=1e-6)
    assert torch.allclose(p.output2, p.branch2 + (x + p.output1 + y) / 3, atol=1e-6)


def test_bf16_autocast_runs_on_cpu():
    x, y = _batch(2)
    model = TwoStageModel(ModelConfig(d_model=16, n_heads=2))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        _, o2 = model(x, y)
    assert torch.isfinite(o2.float()).all()


@pytest.mark.parametrize("bad, message", [
    (lambda x, y: (x[0], y[0]), "rank 3"),
    (lambda x, y: (x, y[..., :-1]), "same shape"),
    (lambda x, y: (x[:, :16], y[:, :16]), "D=32"),
    (lambda x, y: (x[:0], y[:0]), "non-empty"),
])
def test_bad_inputs_raise_clear_errors(bad, message):
    x, y = _batch(2)
    with pytest.raises(ValueError, match=message):
        TwoStageModel(ModelConfig())(*bad(x, y))


def test_bad_config():
    with pytest.raises(ValueError, match="residual must be one of"):
        ModelConfig(residual="half")
    with pytest.raises(ValueError, match="divisible"):
        ModelConfig(d_model=30, n_heads=4)


def test_output_gain_scales_the_untrained_branch():
    x, y = _batch()
    torch.manual_seed(0)
    a = TwoStageModel(ModelConfig(residual="none")).stage1(x, y)
    torch.manual_seed(0)
    b = TwoStageModel(ModelConfig(residual="none", output_gain=0.1)).stage1(x, y)
    assert torch.allclose(b, 0.1 * a, atol=1e-6)


def test_input_scale_rms_is_level_invariant_and_raw_is_not():
    from resmix.config import ModelConfig
    from resmix.models.two_stage import TwoStageModel
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(2, 32, 10, generator=g), torch.randn(2, 32, 10, generator=g)
    for scale, invariant in (("rms", True), ("raw", False)):
        torch.manual_seed(0)
        m = TwoStageModel(ModelConfig(residual="none", input_scale=scale))
        with torch.no_grad():
            same = torch.allclose(m(x, y)[1], m(0.01 * x, 0.01 * y)[1], atol=1e-4)
        assert same == invariant
    with pytest.raises(ValueError, match="input_scale"):
        ModelConfig(input_scale="loud")

@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_other_float_dtypes_are_cast_to_the_models(dtype):
    x, y = _batch(2)
    model = TwoStageModel(ModelConfig(d_model=16, n_heads=2))
    _, out = model(x.to(dtype), y.to(dtype))
    _, ref = model(x.to(dtype).float(), y.to(dtype).float())
    assert out.dtype == torch.float32 and torch.equal(out, ref)


def test_output_scale_is_a_frozen_gain_that_moves_the_start_level():
    from resmix.measure.diagnostics import output_scale_for
    from resmix.measure.metrics import rms_ratio_db
    x, y = _batch()
    cfg = ModelConfig(d_model=16, n_layers=1, n_heads=2, residual="none")
    torch.manual_seed(0)
    base = TwoStageModel(cfg)
    scale = output_scale_for(-12.0, 0.0)  # 12 dB quieter
    torch.manual_seed(0)
    quiet = TwoStageModel(dataclasses.replace(cfg, output_scale=scale))
    with torch.no_grad():
        shift = float((rms_ratio_db(quiet(x, y)[1], y) - rms_ratio_db(base(x, y)[1], y)).mean())
    assert shift == pytest.approx(-12.0, abs=0.01)
    assert all(torch.equal(a, b) for a, b in zip(base.parameters(), quiet.parameters()))
    assert not any(p is quiet.stage2.output_scale for p in quiet.parameters())
    assert float(quiet.stage1.output_scale) == pytest.approx(scale)
    assert quiet.state_dict().keys() == base.state_dict().keys()  # 0.2.0's stored models still load


def test_output_scale_one_changes_nothing():
    x, y = _batch()
    torch.manual_seed(0)
    a = TwoStageModel(ModelConfig(d_model=16, n_layers=1, n_heads=2))
    torch.manual_seed(0)
    b = TwoStageModel(ModelConfig(d_model=16, n_layers=1, n_heads=2, output_scale=1.0))
    assert torch.equal(a(x, y)[1], b(x, y)[1])
