import math

import pytest
import torch

from resmix.config import resolve_device
from resmix.training.history import History, NonFiniteLossError
from resmix.training.single import train


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
    assert h.meta["device"] == str(resolve_device(tiny.train.device)) and h.meta["seed"] == 0 and h.meta["torch"] == torch.__version__
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

def _numbers(h):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in h.records]


def test_training_data_of_other_float_dtypes_is_cast(tiny):
    from resmix.data.synthetic import make_pairs
    e = tiny.with_(train={"epochs": 1})
    x, y = make_pairs(e.data.n_train, e.data, seed=e.data.seed)
    ref = train(e, train_data=(x, y), progress=False)
    bf = x.bfloat16(), y.bfloat16()
    a = train(e, train_data=(x.double(), y.double()), progress=False)
    b = train(e, train_data=bf, progress=False)
    c = train(e, train_data=(bf[0].float(), bf[1].float()), progress=False)
    assert _numbers(a) == _numbers(ref) and _numbers(b) == _numbers(c)


def test_training_data_counts_must_match(tiny):
    from resmix.data.synthetic import make_pairs
    x, y = make_pairs(8, tiny.data)
    with pytest.raises(ValueError, match=r"train_data must hold as many targets as inputs; got 8 inputs \[8, 1024\] and 5"):
        train(tiny, train_data=(x, y[:5]), progress=False)
    with pytest.raises(TypeError, match="val_data must be a pair"):
        train(tiny, val_data=(x,), progress=False)


def test_divergence_at_an_epochs_last_step_is_a_non_finite_loss_error(tiny):
    # one step per epoch, and a rate that sends the weights far out: the update at the
    # epoch's last step is only seen by the held-out evaluation
    e = tiny.with_(data={"n_train": 8}, train={"batch_size": 8, "lr": 1e30})
    with pytest.raises(NonFiniteLossError, match=r"epoch 1, after step 1 \(its last\), held-out clips 1-8: loss term '\w+' is nan"):
        train(e, progress=False)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 not a zip", b"\x80\x02}q\x00."])
def test_corrupt_checkpoint_is_set_aside_and_the_run_starts_afresh(tiny, tmp_path, content):
    from resmix._io import DamagedFileWarning
    e = tiny.with_(train={"epochs": 2})
    ckpt = tmp_path / "run.pt"
    ckpt.write_bytes(content)
    with pytest.warns(DamagedFileWarning, match=r"run\.pt: unreadable checkpoint .*training this run afresh"):
        h = train(e, checkpoint=ckpt, progress=False)
    assert (tmp_path / "run.pt.damaged").read_bytes() == content
    assert _numbers(h) == _numbers(train(e, progress=False))


def test_the_runs_thread_count_decides_whatever_the_callers(tiny):
    e = tiny.with_(train={"epochs": 2})
    torch.set_num_threads(2)
    a = train(e, progress=False)
    assert torch.get_num_threads() == 2 and a.meta["threads"] == e.train.threads == 1
    torch.set_num_threads(1)
    assert _numbers(train(e, progress=False)) == _numbers(a)


def test_new_options_train_and_weight_rms_is_recorded(tiny):
    from resmix.measure.dynamics import weight_rms
    exp = tiny.with_(train={"epochs": 1, "decay": "weights"}, model={"output_scale": 0.5},
                     loss={"corr_axes": "frame"})
    h = train(exp, progress=False)
    r = weight_rms(h.model)
    assert h.last["weight_rms_output"] == pytest.approx(r.output)
    assert h.last["weight_rms_matrices"] == pytest.approx(r.matrices)
