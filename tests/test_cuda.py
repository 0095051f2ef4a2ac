"""The code paths that differ on CUDA: bf16 autocast, device placement, resume with the CUDA RNG.

Skipped without a CUDA device (CI, the development machines); tools/gpu_check.sh runs them
on a GPU machine.
"""
import math

import pytest
import torch

from resmix import study
from resmix.data.framing import frame
from resmix.data.synthetic import make_pairs
from resmix.measure import metrics
from resmix.training.single import evaluate, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture
def on_cuda(tiny):
    return tiny.with_(train={"device": "cuda"})


def _strip(h):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in h.records]


def test_bf16_autocast_training_is_finite_and_keeps_fp32_weights(on_cuda):
    h = train(on_cuda.with_(train={"amp": True, "epochs": 2}), progress=False)
    assert h.meta["device"].startswith("cuda") and h.meta["device_name"]
    for key in ("train_total", "val_rms_output", "val_corr_target", "grad_norm_stage1"):
        assert all(math.isfinite(v) for v in h.series(key)), key
    assert {p.dtype for p in h.model.parameters()} == {torch.float32}
    fp32 = train(on_cuda.with_(train={"amp": False, "epochs": 2}), progress=False)
    assert _strip(fp32) != _strip(h)  # autocast was on


def test_model_data_and_metrics_live_on_the_device(on_cuda, tmp_path):
    h = train(on_cuda.with_(train={"epochs": 1}), progress=False)
    assert {p.device.type for p in h.model.parameters()} == {"cuda"}
    xw, yw = make_pairs(4, on_cuda.data, seed=7)  # CPU waveforms [B, N]: evaluate moves them
    values = evaluate(h.model, xw, yw, on_cuda)
    assert values.keys() >= {"rms_output", "corr_target", "probe_r2"} and all(map(math.isfinite, values.values()))
    xc, yc = xw.cuda(), yw.cuda()
    assert metrics.pearson(xc, yc).device.type == "cuda"
    with torch.no_grad():
        outputs = h.model(frame(xc, on_cuda.data.frame_size), frame(yc, on_cuda.data.frame_size))
    assert {o.device.type for o in outputs} == {"cuda"}
    study.run_one(on_cuda.with_(train={"epochs": 1}), tmp_path)  # stored weights load on CPU
    model = study.load_model(on_cuda.with_(train={"epochs": 1}), tmp_path)
    assert {p.device.type for p in model.parameters()} == {"cpu"}


class Interrupt(Exception):
    pass


def test_resume_restores_the_cuda_random_state(on_cuda, tmp_path):
    exp = on_cuda.with_(model={"dropout": 0.2})  # dropout draws from the CUDA generator
    ckpt = tmp_path / "run.pt"
    saved = {}

    def stop_after_two(record):
        if record["epoch"] == 2:
            saved["cuda_rng"] = torch.cuda.get_rng_state()
            raise Interrupt

    with pytest.raises(Interrupt):
        train(exp, checkpoint=ckpt, progress=False, callback=stop_after_two)
    state = torch.load(ckpt, weights_only=True)
    assert torch.equal(state["cuda_rng"], saved["cuda_rng"])
    torch.cuda.manual_seed(12345)  # a different CUDA state before resuming
    resumed = train(exp, checkpoint=ckpt, progress=False)
    ref = train(exp, progress=False)
    assert len(resumed.records) == exp.train.epochs
    for r, s in zip(_strip(ref), _strip(resumed)):  # GPU kernels may reorder sums: close, not equal
        for k in r:
            assert s[k] == pytest.approx(r[k], rel=1e-3, abs=1e-5), k


def test_a_checkpoint_without_cuda_state_still_resumes(on_cuda, tmp_path):
    """Checkpoints written on CPU (or before the CUDA state was saved) have no ``cuda_rng``."""
    ckpt = tmp_path / "run.pt"

    def stop(record):
        raise Interrupt

    with pytest.raises(Interrupt):
        train(on_cuda, checkpoint=ckpt, progress=False, callback=stop)
    state = torch.load(ckpt, weights_only=True)
    del state["cuda_rng"]
    torch.save(state, ckpt)
    h = train(on_cuda, checkpoint=ckpt, progress=False)
    assert len(h.records) == on_cuda.train.epochs
