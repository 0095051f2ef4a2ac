"""resmix.models.stacked: E members' models as one, each member exactly its own TwoStageModel."""
import pytest
import torch

from resmix.config import ModelConfig
from resmix.data.framing import frame
from resmix.data.synthetic import make_pairs
from resmix.models import stacked as S
from resmix.models.two_stage import TwoStageModel

CFGS = [ModelConfig(d_model=16, n_heads=2, residual="leaky"),
        ModelConfig(d_model=16, n_heads=2, residual="none", input_scale="raw"),
        ModelConfig(d_model=16, n_heads=2, residual="none", output_scale=0.25, output_gain=0.5)]


def _clips(E, B=4, seed=3):
    x, y = make_pairs(E * B, seed=seed)
    return frame(x, 32).view(E, B, 32, -1), frame(y, 32).view(E, B, 32, -1)


def test_initial_rows_are_what_two_stage_model_draws_for_each_seed():
    layout, rows = S.initial_rows(CFGS, [4, 0, 7])
    for cfg, seed, row in zip(CFGS, [4, 0, 7], rows):
        torch.manual_seed(seed)
        model = TwoStageModel(cfg)
        assert torch.equal(row, layout.flatten(dict(model.named_parameters())))
        rebuilt = S.member_model(cfg, layout, row)
        assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), rebuilt.state_dict().values()))


def test_the_stacked_forward_is_each_members_two_stage_model_exactly():
    # At the engine's one thread per run (TrainConfig.threads, part of a run's key). With two threads,
    # MKL's Intel kernels (the shim on AMD) split a batched matmul and a plain one differently: measured
    # 4.8e-7 apart at most on a 2-core AMD EPYC (family 25), bit-equal with the shim off or on one thread.
    torch.set_num_threads(1)
    layout, rows = S.initial_rows(CFGS, [1, 2, 3])
    params = S.Stacked.from_rows(layout, rows)
    x, y = _clips(len(CFGS))
    parts = S.forward(params.views(), x, y, S.ModelSettings.of(CFGS), n_layers=2, n_heads=2)
    for e, cfg in enumerate(CFGS):
        ref = S.member_model(cfg, layout, rows[e]).parts(x[e], y[e])
        for name in ("branch1", "output1", "branch2", "output2"):
            assert torch.equal(getattr(parts, name)[e], getattr(ref, name)), (cfg, name)


def test_members_do_not_mix():
    layout, rows = S.initial_rows(CFGS[:2], [1, 2])
    x, y = _clips(2)
    settings = S.ModelSettings.of(CFGS[:2])
    before = S.forward(S.Stacked.from_rows(layout, rows).views(), x, y, settings, 2, 2).output2
    rows[1] *= 3  # another member's weights change ...
    x[1] = 0  # ... and its inputs
    after = S.forward(S.Stacked.from_rows(layout, rows).views(), x, y, settings, 2, 2).output2
    assert torch.equal(before[0], after[0]) and not torch.equal(before[1], after[1])


def test_stacked_rows_round_trip_and_selection():
    layout, rows = S.initial_rows(CFGS, [1, 2, 3])
    st = S.Stacked.from_rows(layout, rows)
    assert torch.equal(st.rows(), rows) and torch.equal(st.row(2), rows[2])
    assert all(v.is_contiguous() and v.shape[0] == 3 for v in st.views().values())  # no copy before a matmul
    picked = st.select(torch.tensor([2, 0]))
    assert torch.equal(picked.rows(), rows[[2, 0]])
    st.set_row(1, rows[0])
    assert torch.equal(st.row(1), rows[0]) and torch.equal(st.row(2), rows[2])
    spread = S.Stacked(layout, st.expand(torch.tensor([1.0, 2.0, 3.0])), 3).rows()
    assert torch.equal(spread, torch.tensor([1.0, 2.0, 3.0])[:, None].expand_as(rows))
    with pytest.raises(ValueError, match="a stack of 2 members needs"):
        S.Stacked(layout, st.flat, 2)


def test_row_sums_of_a_member_do_not_depend_on_the_cohort():
    """A member's float64 sums (an epoch's weight RMS) are the same alone and in a stack of 16."""
    cfg = ModelConfig()  # the quick size: blocks long enough for the reduction to be vectorised
    layout, rows = S.initial_rows([cfg] * 16, list(range(16)))
    rows = rows + 1e-3 * torch.randn(rows.shape, generator=torch.Generator().manual_seed(0))
    stack = S.Stacked.from_rows(layout, rows)
    which = list(range(len(layout.names)))
    together = stack.row_sums(which, lambda x: x.pow(2))
    for e in (0, 7, 15):
        alone = S.Stacked.from_rows(layout, rows[e:e + 1]).row_sums(which, lambda x: x.pow(2))
        assert together[e].item() == alone[0].item()
