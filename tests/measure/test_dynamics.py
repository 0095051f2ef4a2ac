import math

import pytest
import torch

from resmix.config import ModelConfig, TrainConfig
from resmix.measure.dynamics import decays, equilibrium_rms, make_optimizer, predicted_rms, time_constant, weight_rms
from resmix.models.two_stage import TwoStageModel


def test_prediction_formulas():
    assert equilibrium_rms(1e-3, 0.01) == pytest.approx(math.sqrt(0.05))
    assert time_constant(1e-3, 0.01) == pytest.approx(1e5)
    t = torch.tensor([0, 10**9])
    assert predicted_rms(0.3, 1e-3, 0.01, t).tolist() == pytest.approx([0.3, math.sqrt(0.05)])
    with pytest.raises(ValueError, match="must be > 0"):
        equilibrium_rms(1e-3, 0.0)


def test_adamw_with_random_sign_unit_gradients_reaches_the_predicted_rms():
    """A toy: coordinates starting at 0 (grow) and at 0.5 (shrink) under random-sign gradients."""
    torch.set_num_threads(1)  # 2000 coordinates: threads only add overhead (conftest resets it)
    lr, wd = 1e-2, 1.0
    tau = round(time_constant(lr, wd))  # 100 steps: 10x Adam's momentum memory
    g = torch.Generator().manual_seed(0)
    w = torch.nn.Parameter(torch.cat([torch.zeros(1000), torch.full((1000,), 0.5)]))
    opt = torch.optim.AdamW([w], lr=lr, weight_decay=wd)
    history = []
    for _ in range(6 * tau):
        w.grad = torch.randint(0, 2, w.shape, generator=g).float() * 2 - 1
        opt.step()
        history.append(w.detach().view(2, -1).pow(2).mean(1).sqrt())  # (2,): per starting point
    history = torch.stack(history)
    eq = equilibrium_rms(lr, wd)
    assert history[-tau:].mean(0).tolist() == pytest.approx([eq, eq], rel=0.2)
    at_tau = [float(predicted_rms(r0, lr, wd, tau)) for r0 in (0.0, 0.5)]
    assert history[tau - 1].tolist() == pytest.approx(at_tau, rel=0.2)  # the approach, too
    assert history[tau - 1, 1] > 2 * eq  # far from equilibrium after one time constant from above


def test_decay_all_is_the_old_single_group_optimizer():
    model = TwoStageModel(ModelConfig(d_model=16, n_layers=1, n_heads=2))
    opt = make_optimizer(model, TrainConfig(lr=2e-3, weight_decay=0.05))
    assert len(opt.param_groups) == 1 and opt.param_groups[0]["weight_decay"] == 0.05
    assert opt.param_groups[0]["params"] == list(model.parameters())


def test_decay_weights_leaves_biases_and_norms_alone():
    model = TwoStageModel(ModelConfig(d_model=16, n_layers=1, n_heads=2))
    opt = make_optimizer(model, TrainConfig(weight_decay=0.05, decay="weights"))
    decayed, free = opt.param_groups
    assert decayed["weight_decay"] == 0.05 and free["weight_decay"] == 0.0
    names = {id(p): n for n, p in model.named_parameters()}
    decayed_names = {names[id(p)] for p in decayed["params"]}
    free_names = {names[id(p)] for p in free["params"]}
    assert decayed_names | free_names == set(names.values()) and not decayed_names & free_names
    assert "stage2.out.weight" in decayed_names and "stage1.blocks.0.attn.qkv.weight" in decayed_names
    assert {"stage2.out.bias", "stage1.norm.weight", "stage1.blocks.0.norm1.bias"} <= free_names
    assert all(n.endswith("weight") and "norm" not in n for n in decayed_names)


def test_decay_weights_really_spares_biases_in_a_step():
    lin = torch.nn.Linear(3, 2)
    with torch.no_grad():
        lin.bias.fill_(1.0)
    opt = make_optimizer(lin, TrainConfig(lr=0.1, weight_decay=1.0, decay="weights"))
    before = lin.weight.detach().clone()
    for p in lin.parameters():
        p.grad = torch.zeros_like(p)  # no gradient: only decay can move anything
    opt.step()
    assert torch.equal(lin.bias, torch.ones(2))
    assert torch.allclose(lin.weight, before * 0.9)


def test_weight_rms_pools_the_groups():
    model = TwoStageModel(ModelConfig(d_model=16, n_layers=1, n_heads=2))
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.fill_(2.0 if n.endswith("out.weight") else (1.0 if decays(n, p) else 0.5))
    out_n = sum(p.numel() for n, p in model.named_parameters() if n.endswith("out.weight"))
    mat_n = sum(p.numel() for n, p in model.named_parameters() if decays(n, p))
    r = weight_rms(model)
    assert r.output == pytest.approx(2.0) and r.vectors == pytest.approx(0.5)
    assert r.matrices == pytest.approx(math.sqrt((4 * out_n + (mat_n - out_n)) / mat_n))


def test_initial_weight_rms_is_the_models_at_that_seed():
    from resmix.measure.dynamics import initial_weight_rms
    cfg = ModelConfig(d_model=16, n_heads=2, n_layers=1)
    a, b = initial_weight_rms(cfg, 0), initial_weight_rms(cfg, 0)
    assert a == b and initial_weight_rms(cfg, 1) != a
    torch.manual_seed(0)
    assert weight_rms(TwoStageModel(cfg)) == a


def test_prediction_rows_judge_only_runs_with_a_time_constant_elapsed(tiny):
    from resmix.criteria import DYNAMICS
    from resmix.measure.dynamics import prediction_rows
    from resmix.training.single import train
    long = train(tiny.with_(train={"lr": 1e-2, "weight_decay": 50.0}), progress=False)  # lr*wd*t = 4 at 8 steps
    short = train(tiny.with_(train={"weight_decay": 0.01}), progress=False)
    none = train(tiny.with_(train={"weight_decay": 0.0}), progress=False)
    r_long, r_short, r_none = prediction_rows([long, short, none])
    assert r_long["lr_wd_steps"] == pytest.approx(1e-2 * 50 * 8) and r_long["judged"]
    assert r_long["ratio"] == pytest.approx(r_long["measured"] / r_long["predicted"])
    assert r_long["holds"] == DYNAMICS.holds(r_long["measured"], r_long["predicted"])
    assert not r_short["judged"] and r_short["holds"] is None
    assert math.isnan(r_none["predicted"]) and r_none["holds"] is None
    assert r_long["measured"] < r_long["rms0"]  # strong decay shrinks the weights within the run


def test_adam_update_rms_is_one_for_steady_unit_gradients_and_small_for_noise():
    from resmix.measure.dynamics import adam_update_rms
    torch.manual_seed(0)
    for grads, low, high in ((lambda: torch.ones(50, 40), 0.99, 1.01),  # a constant gradient: m_hat = sqrt(v_hat)
                             (lambda: torch.randn(50, 40), 0.1, 0.6)):  # zero-mean noise: |m_hat| << sqrt(v_hat)
        w = torch.nn.Parameter(torch.zeros(50, 40))
        opt = torch.optim.AdamW([w], lr=1e-3)
        assert math.isnan(adam_update_rms(opt))
        for _ in range(200):
            w.grad = grads()
            opt.step()
        assert low < adam_update_rms(opt) < high


def test_predicted_rms_with_a_smaller_update_scales_only_the_equilibrium():
    assert float(predicted_rms(0.3, 1e-3, 0.01, 0, update_rms=0.2)) == pytest.approx(0.3)
    assert float(predicted_rms(0.3, 1e-3, 0.01, 10**9, update_rms=0.2)) == pytest.approx(0.2 * math.sqrt(0.05))
