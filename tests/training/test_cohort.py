"""resmix.training.cohort: a run's numbers do not depend on the cohort it trains in, its position, or a kill."""
import pytest
import torch

from resmix._io import DamagedFileWarning
from resmix.training.cohort import cohort_key, train_cohort
from resmix.training.history import NonFiniteLossError
from resmix.training.single import train


def _numbers(h):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in h.records]


@pytest.fixture
def mix(tiny):
    """Runs that differ in every per-member setting the engine carries (and in the data seed)."""
    t = tiny.with_(train={"epochs": 2})
    return {
        "fixed": t.with_(model={"residual": "none"}, loss={"eps": 0.01}),
        "leaky mse": t.with_(loss={"reconstruction": 0.1}, train={"lr": 3e-3, "seed": 3}),
        "mrstft frame product": t.with_(
            model={"residual": "none", "input_scale": "raw", "output_scale": 0.3},
            loss={"reconstruction": 0.01, "recon_kind": "mrstft", "corr_axes": "frame", "recon_reference": "product"},
            train={"weight_decay": 1.0, "decay": "weights", "grad_clip": 0.0}, data={"seed": 99}),
        "hinge batch, one epoch": t.with_(loss={"variance": 0.1, "corr_axes": "batch", "variance_gamma": 0.5},
                                          train={"epochs": 1, "seed": 5, "grad_clip": 0.05}),
        "decay 3": t.with_(model={"residual": "none", "output_gain": 0.2},
                           loss={"anti_correlation": 2.0, "novelty": 0.5, "recon_reference": "difference",
                                 "reconstruction": 0.3}, train={"weight_decay": 3.0, "epochs": 3}),
    }


def test_a_members_records_are_those_it_gets_alone_in_any_cohort_and_position(mix):
    names = list(mix)
    alone = {n: _numbers(train(mix[n], progress=False)) for n in names}
    for order in (names, names[::-1], [names[2], names[0]], [names[4], names[1], names[3]]):
        together = train_cohort([mix[n] for n in order], progress=False)
        for n, h in zip(order, together):
            assert _numbers(h) == alone[n], f"{n} in cohort {order}"
            assert len(h.records) == mix[n].train.epochs


def test_trained_weights_equal_alone_and_meta_records_the_engine(mix):
    a = train(mix["leaky mse"], progress=False)
    b = train_cohort([mix["fixed"], mix["leaky mse"]], progress=False)[1]
    assert all(torch.equal(x, y) for x, y in zip(a.model.state_dict().values(), b.model.state_dict().values()))
    assert b.meta["engine"] == a.meta["engine"] and b.meta["cohort_size"] == 2 and a.meta["cohort_size"] == 1


class Interrupt(Exception):
    pass


def test_a_killed_cohort_resumes_every_member_in_another_cohort(mix, tmp_path):
    names = ["fixed", "mrstft frame product", "decay 3"]
    alone = {n: _numbers(train(mix[n], progress=False)) for n in names}
    ckpts = {n: tmp_path / f"{i}.pt" for i, n in enumerate(names)}

    def stop(i, record):
        if i == 2 and record["epoch"] == 2:  # "decay 3" has written epoch 2; the others epoch 1 or 2
            raise Interrupt
    with pytest.raises(Interrupt):
        train_cohort([mix[n] for n in names], checkpoints=[ckpts[n] for n in names], progress=False, callback=stop)
    # resume in another order and beside a new member: members are at different epochs now
    order = ["decay 3", "leaky mse", "fixed", "mrstft frame product"]
    resumed = train_cohort([mix[n] for n in order], checkpoints=[ckpts.get(n) for n in order], progress=False)
    for n, h in zip(order, resumed):
        if n in alone:
            assert _numbers(h) == alone[n], n


def test_a_diverging_member_leaves_with_its_error_and_the_others_go_on_unchanged(mix, tiny):
    bad = tiny.with_(model={"residual": "none", "zero_init_output": True}, loss={"eps": 0.0},
                     train={"epochs": 2})  # a constant output with eps = 0: Pearson is 0/0 at once
    alone = {n: _numbers(train(mix[n], progress=False)) for n in ("fixed", "decay 3")}
    out = train_cohort([bad, mix["fixed"], mix["decay 3"]], progress=False)
    assert isinstance(out[0], NonFiniteLossError) and "epoch 1, step 1: loss term 'anti_correlation'" in str(out[0])
    assert _numbers(out[1]) == alone["fixed"] and _numbers(out[2]) == alone["decay 3"]


def test_divergence_after_an_epochs_last_step_is_found_by_the_held_out_check(tiny):
    late = tiny.with_(data={"n_train": 8}, train={"batch_size": 8, "lr": 1e30})
    ok = tiny.with_(data={"n_train": 8}, train={"batch_size": 8, "epochs": 2})
    out = train_cohort([late, ok], progress=False)
    assert isinstance(out[0], NonFiniteLossError)
    assert "epoch 1, after step 1 (its last), held-out clips 1-8" in str(out[0])
    assert _numbers(out[1]) == _numbers(train(ok, progress=False))


def test_runs_of_other_shapes_or_with_dropout_are_refused(tiny):
    with pytest.raises(ValueError, match=r"differ in n_train \(16 vs 8\)"):
        train_cohort([tiny, tiny.with_(data={"n_train": 8})], progress=False)
    with pytest.raises(ValueError, match="differ in model"):
        train_cohort([tiny, tiny.with_(model={"d_model": 32})], progress=False)
    with pytest.raises(ValueError, match="without dropout"):
        train(tiny.with_(model={"dropout": 0.1}), progress=False)
    with pytest.raises(TypeError, match="non-empty list of Experiments"):
        train_cohort([], progress=False)
    assert cohort_key(tiny) == cohort_key(tiny.with_(loss={"eps": 1.0}, train={"lr": 1.0, "epochs": 9}))


def test_data_the_experiment_does_not_describe_is_refused(tiny):
    from resmix.data.synthetic import make_pairs
    x, y = make_pairs(16, tiny.data)
    longer = torch.cat([x, x], 1), torch.cat([y, y], 1)
    with pytest.raises(ValueError, match=r"train_data holds 16 clips of 2048 samples; the experiment describes 16 "
                                         r"clips of 1024"):
        train(tiny, train_data=longer, progress=False)
    with pytest.raises(ValueError, match=r"val_data holds 16 clips .* describes 8 clips"):
        train(tiny, val_data=(x, y), progress=False)


def test_a_folder_as_checkpoint_is_refused_and_left_alone(tiny, tmp_path):
    folder = tmp_path / "a_folder"
    folder.mkdir()
    (folder / "mine.txt").write_text("keep")
    with pytest.raises(ValueError, match="is a directory; expected the path of a checkpoint file"):
        train(tiny, checkpoint=folder, progress=False)
    assert (folder / "mine.txt").read_text() == "keep" and not (tmp_path / "a_folder.damaged").exists()


@pytest.mark.parametrize("tamper", ["records", "shape", "steps", "format"])
def test_a_tampered_checkpoint_is_set_aside_and_the_run_starts_afresh(tiny, tmp_path, tamper):
    e = tiny.with_(train={"epochs": 2})
    ck = tmp_path / "run.pt"
    with pytest.raises(Interrupt):
        train(e, checkpoint=ck, progress=False, callback=lambda r: (_ for _ in ()).throw(Interrupt()))
    state = torch.load(ck, weights_only=True)
    if tamper == "records":
        state["records"][0]["val_rms_ratio_db"] = "loud"
    elif tamper == "shape":
        state["params"] = state["params"][:-1]
    elif tamper == "steps":
        state["steps"] += 1
    else:
        state["format"] = "something else"
    torch.save(state, ck)
    with pytest.warns(DamagedFileWarning, match=r"run\.pt: checkpoint cannot be resumed .*training this run afresh"):
        h = train(e, checkpoint=ck, progress=False)
    assert _numbers(h) == _numbers(train(e, progress=False)) and (tmp_path / "run.pt.damaged").exists()


def test_at_the_quick_size_a_member_of_sixteen_records_what_it_records_alone():
    """Regression: in a grid of 16 quick-width runs, adam_update_rms differed from the run alone by 2e-15
    (a float64 reduction over the members' rows); every record key must be bit-equal."""
    from resmix.config import quick
    base = quick().with_(data={"n_val": 8}, train={"epochs": 1})  # 32 steps: fewer did not show it
    exps = [base.with_(train={"seed": s, "lr": (1e-3, 3e-3)[s % 2]}, model={"residual": ("leaky", "none")[s // 8]})
            for s in range(16)]
    together = train_cohort(exps, progress=False)
    for i in (0, 9):
        assert _numbers(together[i]) == _numbers(train(exps[i], progress=False)), exps[i].name


def test_two_mrstft_members_train_as_they_do_alone(tiny):
    """Regression: members sharing an MR-STFT term were transformed in one STFT call, whose backward is not
    batch-invariant, so each run depended on the other (a stored campaign's 30-member MR-STFT cohorts did not
    re-derive alone). At 2 clips of 2048 samples a step the stacked call's gradients differed."""
    t = tiny.with_(data={"clip_seconds": 0.256}, train={"epochs": 1, "batch_size": 2},
                   loss={"reconstruction": 0.01, "recon_kind": "mrstft"})
    a, b = t.with_(train={"seed": 1}), t.with_(train={"seed": 2}, loss={"eps": 0.1})
    together = train_cohort([a, b], progress=False)
    assert [_numbers(h) for h in together] == [_numbers(train(e, progress=False)) for e in (a, b)]
