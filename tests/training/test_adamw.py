"""resmix.training.adamw: torch's AdamW and clip_grad_norm_, per member, on stacked parameters."""
import pytest
import torch

from resmix.config import ModelConfig, TrainConfig
from resmix.measure.dynamics import adam_update_rms, make_optimizer
from resmix.models import stacked as S
from resmix.models.two_stage import TwoStageModel
from resmix.training.adamw import CohortAdamW

MODEL = ModelConfig(d_model=16, n_heads=2)
CFGS = [TrainConfig(lr=3e-3, weight_decay=0.5, decay="all", grad_clip=0.0),
        TrainConfig(lr=1e-3, weight_decay=2.0, decay="weights", grad_clip=0.05),
        TrainConfig(lr=1e-2, weight_decay=0.0, grad_clip=1.0),
        TrainConfig(lr=2e-3, weight_decay=0.3, optimizer="adam", grad_clip=1.0),
        TrainConfig(lr=2e-3, weight_decay=0.3, optimizer="adam", decay="weights", grad_clip=0.0)]


def _vectors(layout):
    return layout.which(lambda n, s: len(s) < 2)


def test_each_member_steps_exactly_as_torch_adamw_with_clipping():
    """Bit-equal to torch.optim.AdamW or Adam (make_optimizer's groups) after clip_grad_norm_, every member."""
    models, refs = [], []
    for seed, cfg in enumerate(CFGS):
        torch.manual_seed(seed)
        models.append(TwoStageModel(MODEL))
        refs.append(make_optimizer(models[-1], cfg))
    layout = S.Layout.of(models[0])
    params = S.Stacked.from_rows(layout, torch.stack([layout.flatten(dict(m.named_parameters())) for m in models]))
    opt = CohortAdamW(params, CFGS, _vectors(layout))
    g = torch.Generator().manual_seed(0)
    for _ in range(4):
        grads = [{n: torch.randn(p.shape, generator=g) * 0.1 for n, p in models[0].named_parameters()} for _ in CFGS]
        for m, ref, cfg, gs in zip(models, refs, CFGS, grads):
            for n, p in m.named_parameters():
                p.grad = gs[n].clone()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(m.parameters(), cfg.grad_clip)
            ref.step()
        stacked = S.Stacked.from_rows(layout, torch.stack([layout.flatten(gs) for gs in grads]))
        opt.clip_(stacked)
        opt.step(stacked)
    for e, m in enumerate(models):
        assert torch.equal(params.row(e), layout.flatten(dict(m.named_parameters()))), CFGS[e]
        assert opt.update_rms(layout.which(lambda n, s: len(s) >= 2))[e] == pytest.approx(adam_update_rms(refs[e]), rel=1e-9)


def test_clip_returns_the_norms_before_clipping_and_zero_means_off():
    torch.manual_seed(0)
    layout = S.Layout.of(TwoStageModel(MODEL))
    grads = torch.ones(2, layout.size)
    stacked = S.Stacked.from_rows(layout, grads.clone())
    params = S.Stacked.from_rows(layout, torch.zeros(2, layout.size))
    opt = CohortAdamW(params, [TrainConfig(grad_clip=0.0), TrainConfig(grad_clip=1.0)], _vectors(layout))
    norms = opt.clip_(stacked)
    assert norms.shape == (2, len(layout.names))
    assert torch.allclose(norms.pow(2).sum(1).sqrt(), torch.full((2,), layout.size ** 0.5))
    rows = stacked.rows()
    assert torch.equal(rows[0], grads[0]) and rows[1].norm() == pytest.approx(1.0, rel=1e-5)

