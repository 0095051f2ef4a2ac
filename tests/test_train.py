import math

import pytest
import torch

from resmix.train import History, NonFiniteLossError, train


def test_same_seed_same_history(tiny):
    a = train(tiny, progress=False)
    b = train(tiny, progress=False)
    strip = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h.records]  # noqa: E731
    assert strip(a) == strip(b)
    c = train(tiny.with_(train={"seed": 1}), progress=False)
    assert strip(c) != strip(a)


def test_history_records_and_provenance(tiny):
    h = train(tiny, progress=False)
    assert len(h.records) == tiny.train.epochs
    for key in ("val_rms_output", "val_corr_target", "val_probe_r2", "train_total", "grad_norm_stage1"):
        assert all(math.isfinite(v) for v in h.series(key))
    assert h.meta["device"] == "cpu" and h.meta["seed"] == 0 and h.meta["torch"] == torch.__version__
    assert History.from_dict(h.to_dict()).records == h.records
    with pytest.raises(KeyError, match="no metric"):
        h.series("nope")


class Interrupt(Exception):
    pass


def test_resume_matches_uninterrupted(tiny, tmp_path):
    ref = train(tiny, progress=False)

    def stop_after_two(record):
        if record["epoch"] == 2:
            raise Interrupt

    ckpt = tmp_path / "run.pt"
    with pytest.raises(Interrupt):
        train(tiny, checkpoint=ckpt, progress=False, callback=stop_after_two)
    resumed = train(tiny, checkpoint=ckpt, progress=False)
    assert len(resumed.records) == tiny.train.epochs
    for r, s in zip(ref.records, resumed.records):
        assert {k: v for k, v in r.items() if k != "seconds"} == {k: v for k, v in s.items() if k != "seconds"}


def test_checkpoint_of_another_experiment_is_refused(tiny, tmp_path):
    ckpt = tmp_path / "run.pt"
    train(tiny.with_(train={"epochs": 1}), checkpoint=ckpt, progress=False)
    with pytest.raises(ValueError, match="different experiment"):
        train(tiny, checkpoint=ckpt, progress=False)


def test_loss_decreases_end_to_end(tiny):
    e = tiny.with_(loss={"reconstruction": 1.0, "anti_correlation": 0.0, "novelty": 0.0},
                   train={"epochs": 8})
    h = train(e, progress=False)
    assert h.records[-1]["train_total"] < 0.5 * h.records[0]["train_total"]


def test_constant_output_with_zero_eps_names_the_term(tiny):
    e = tiny.with_(model={"residual": "none", "zero_init_output": True}, loss={"eps": 0.0})
    with pytest.raises(NonFiniteLossError, match="epoch 1, step 1: loss term 'anti_correlation'"):
        train(e, progress=False)


def test_records_count_optimizer_steps_and_input_dependence(tiny):
    from resmix.config import Experiment
    h = train(tiny, progress=False)
    assert isinstance(h.experiment, Experiment) and History.from_dict(h.to_dict()).experiment == tiny
    per_epoch = -(-tiny.data.n_train // tiny.train.batch_size)
    assert h.series("step") == [float(per_epoch * (i + 1)) for i in range(tiny.train.epochs)]
    assert h.steps_per_epoch == per_epoch
    for key in ("val_common_share", "val_swap_input", "val_swap_target", "val_lag_corr_target",
                "val_abs_corr_target", "val_pred_abs_corr_target"):
        assert math.isfinite(h.last[key])
