"""What train() must refuse or set aside at its entry (issue 20): the train-side items, fixed by the cohort engine.

Written as strict xfail tests against the old training loop (each failed there for the reason its
docstring names); the cohort engine (resmix.training.cohort, resmix.training.checkpoint) fixes them, so they run as
ordinary tests since the branch took it in.
"""
from dataclasses import replace

import pytest
import torch

from resmix._io import DamagedFileWarning
from resmix.data.synthetic import make_pairs
from resmix.training.single import train


def _numbers(h):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in h.records]


class _Stop(Exception):
    pass


def _stop_at(epoch):
    def callback(record):
        if record["epoch"] == epoch:
            raise _Stop
    return callback


@pytest.fixture
def exp(tiny):
    return tiny.with_(train={"epochs": 3})


@pytest.fixture
def interrupted(exp, tmp_path):
    """A checkpoint written after epoch 2 of 3 (the run stopped there), and the uninterrupted run's records."""
    ckpt = tmp_path / "run.pt"
    with pytest.raises(_Stop):
        train(exp, checkpoint=ckpt, progress=False, callback=_stop_at(2))
    return ckpt, _numbers(train(exp, progress=False))


def test_train_data_of_another_clip_length_is_refused(exp):
    """Clips of another length than ``exp.data.n_samples`` are a ValueError naming both lengths, raised
    before any training (the old loop trained and stored a config that described other clips)."""
    x, y = make_pairs(16, replace(exp.data, clip_seconds=2 * exp.data.clip_seconds))
    assert x.shape[1] == 2 * exp.data.n_samples
    with pytest.raises(ValueError, match=rf"train_data .*{x.shape[1]} samples.*{exp.data.n_samples}"):
        train(exp, train_data=(x, y), progress=False, callback=lambda r: pytest.fail("trained on the wrong clips"))


def test_a_folder_as_checkpoint_is_refused_and_left_untouched(exp, tmp_path):
    """``checkpoint=`` an existing directory is an error naming it (it is not a checkpoint file), raised
    before any training, and the folder stays as it is (the old loop renamed it ``a_folder.damaged``)."""
    folder = tmp_path / "a_folder"
    folder.mkdir()
    (folder / "mine.txt").write_text("kept")
    with pytest.raises((ValueError, IsADirectoryError), match=r"a_folder.*(is a directory|a folder)"):
        train(exp, checkpoint=folder, progress=False, callback=lambda r: pytest.fail("trained"))
    assert (folder / "mine.txt").read_text() == "kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_folder"]


def test_a_checkpoint_with_tampered_records_is_set_aside(exp, interrupted):
    """A checkpoint whose records are not one numeric record per finished epoch (numbered 1..k, as many
    as its optimizer's steps say) is set aside with a DamagedFileWarning and the run trains afresh, to the
    records of an uninterrupted run (the old loop used tampered records as they were)."""
    ckpt, reference = interrupted
    state = torch.load(ckpt, weights_only=True)
    state["records"][0]["val_rms_ratio_db"] = 99.0  # a value changed ...
    del state["records"][1]  # ... and a finished epoch dropped
    torch.save(state, ckpt)
    with pytest.warns(DamagedFileWarning, match=r"run\.pt.*set aside"):
        h = train(exp, checkpoint=ckpt, progress=False)
    assert _numbers(h) == reference


def test_a_checkpoint_of_another_shape_is_set_aside(exp, interrupted):
    """A checkpoint whose tensors do not fit the experiment's model (a size mismatch) is set aside with a
    DamagedFileWarning and the run trains afresh (torch's "size mismatch" RuntimeError ended the old loop)."""
    ckpt, reference = interrupted
    state = torch.load(ckpt, weights_only=True)
    state["params"] = torch.cat([state["params"], torch.zeros(1)])  # one value more than the model has
    torch.save(state, ckpt)
    with pytest.warns(DamagedFileWarning, match=r"run\.pt.*set aside"):
        h = train(exp, checkpoint=ckpt, progress=False)
    assert _numbers(h) == reference


def test_one_held_out_clip_is_refused_before_training(exp):
    """``val_data`` of one clip is a ValueError raised at the entry (the engine requires data.n_val clips,
    and DataConfig at least 2); the old loop failed inside the first evaluation, after a whole epoch."""
    x, y = make_pairs(1, exp.data, seed=99)
    with pytest.raises(ValueError, match=r"val_data holds 1 clips"):
        train(exp, val_data=(x, y), progress=False)
