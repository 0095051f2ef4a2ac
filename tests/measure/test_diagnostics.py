import torch
from torch import nn

from resmix.config import ModelConfig
from resmix.data.framing import frame
from resmix.data.synthetic import make_pairs
from resmix.measure.diagnostics import diagnose, zero_weights_output
from resmix.models.two_stage import TwoStageModel


class Leaky(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Conv1d(64, 32, 1)

    def forward(self, x, y):
        return 0.1 * self.proj(torch.cat([x, y], 1)) + 0.3 * x + 0.7 * y


def _xy():
    x, y = make_pairs(4, seed=2)
    return frame(x, 32), frame(y, 32)


def test_zero_weights_reveals_the_shortcut():
    x, y = _xy()
    d = diagnose(Leaky(), x, y)
    assert d.leaks and abs(d.zero_probe["a"] - 0.3) < 1e-4 and abs(d.zero_probe["b"] - 0.7) < 1e-4
    assert "Out→Target" in d.report


def test_fixed_design_does_not_leak_and_model_is_untouched():
    x, y = _xy()
    model = TwoStageModel(ModelConfig(residual="none"))
    before = [p.clone() for p in model.parameters()]
    d = diagnose(model, x, y)
    assert not d.leaks and d.residual_share == 0
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    leaky = zero_weights_output(TwoStageModel(ModelConfig(residual="leaky")), x, y)
    assert torch.allclose(leaky, 0.5 * (x + y), atol=1e-6)


def test_output_gain_for_sets_the_starting_level():
    from resmix.measure.diagnostics import output_gain_for, untrained_level_db
    x, y = _xy()
    cfg = ModelConfig(residual="none")
    start = untrained_level_db(cfg, x, y, seed=0)
    gain = output_gain_for(-12.0, start)
    # not exact: stage 2 also sees stage 1's scaled output; the level lands within a fraction of a dB
    assert abs(untrained_level_db(ModelConfig(residual="none", output_gain=gain), x, y, seed=0) + 12.0) < 0.5
    assert abs(start + 12.0) > 5


def test_decompose_planted_parts():
    from resmix.measure.diagnostics import decompose
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(16, 2000, generator=g), torch.randn(16, 2000, generator=g)
    fixed = torch.randn(1, 2000, generator=g)
    d = decompose(0.5 * x + 0.5 * y, x, y)
    assert abs(d.a - 0.5) < 1e-6 and d.mix_share > 0.999 and d.common_share < 1e-6
    d = decompose(3 * fixed.expand(16, -1) + 0.0 * x, x, y)
    assert d.common_share > 0.95 and d.mix_share < 0.05
    d = decompose(torch.randn(16, 2000, generator=g), x, y)
    assert d.specific_share > 0.9


def test_level_forces_name_the_road():
    import torch

    from resmix.config import LossConfig, ModelConfig, TrainConfig
    from resmix.data.framing import frame
    from resmix.data.synthetic import make_pairs
    from resmix.measure.diagnostics import level_forces
    from resmix.models.two_stage import TwoStageModel
    x, y = (frame(w, 32) for w in make_pairs(8, seed=3))
    torch.manual_seed(0)
    model = TwoStageModel(ModelConfig(residual="none"))
    seed = level_forces(model, x, y, LossConfig(), TrainConfig(), steps=768)
    assert seed.road == "neither" and seed.eps_ratio < 1e-5 and seed.layernorm_gain_rms == 1.0
    assert level_forces(model, x, y, LossConfig(eps=10.0), TrainConfig(), 768).road == "epsilon"
    # the settings say decay has had its time, but this model's gains are untouched: not the decay road
    assert level_forces(model, x, y, LossConfig(), TrainConfig(weight_decay=3.0), 768).road == "neither"
    with torch.no_grad():  # gains as the decay road leaves them (chapter 6 measures 0.10)
        for m in model.modules():
            if isinstance(m, torch.nn.LayerNorm):
                m.weight.mul_(0.1)
    assert level_forces(model, x, y, LossConfig(), TrainConfig(weight_decay=3.0), 768).road == "decay"
    assert level_forces(model, x, y, LossConfig(), TrainConfig(weight_decay=3.0, decay="weights"), 768).road == "neither"
    assert level_forces(model, x, y, LossConfig(), TrainConfig(), 768).road == "neither"  # shrunk, but too few time constants
    constant = level_forces(lambda i, t: torch.ones_like(t), x, y, LossConfig(), TrainConfig(), 0)
    assert constant.offset_share == 1.0 and constant.layernorm_gain_rms != constant.layernorm_gain_rms  # nan: no LayerNorm
