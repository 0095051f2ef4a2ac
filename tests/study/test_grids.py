import json
import os
import re
import shutil
import stat
import threading
import time

import pytest

from resmix import study
from resmix._io import DamagedFileWarning
from resmix.config import quick
from resmix.study import cli, grids, runner
from resmix.study.store import StoreError, claim


def test_grid_names_and_values(tiny):
    exps = study.grid(tiny, {"model.residual": ["leaky", "none"], "loss.eps": [1e-8, 1.0]}, seeds=[0, 1])
    assert len(exps) == 8 and len({study.run_key(e) for e in exps}) == 8
    assert exps[-1].model.residual == "none" and exps[-1].loss.eps == 1.0 and exps[-1].train.seed == 1
    assert exps[0].name == "model.residual=leaky|loss.eps=1e-08|train.seed=0"
    with pytest.raises(ValueError, match="unknown setting"):
        study.grid(tiny, {"loss.epsilon": [1]})


def test_runs_are_stored_with_provenance_and_skipped(tiny, tmp_path):
    exps = study.grid(tiny.with_(train={"epochs": 2}), {"loss.reconstruction": [0.0, 0.1]}, seeds=[0, 1])
    first = study.run_grid(exps, tmp_path, progress=False)
    files = sorted(tmp_path.glob("*.json"))
    assert len(files) == 4 and not list((tmp_path / "ckpt").glob("*"))
    stored = json.loads(files[0].read_text())
    assert {"device", "torch", "seed", "profile"} <= set(stored["meta"])
    mtimes = [f.stat().st_mtime_ns for f in files]
    again = study.run_grid(exps, tmp_path, progress=False)
    assert [f.stat().st_mtime_ns for f in files] == mtimes
    assert [h.records for h in again] == [h.records for h in first]
    model = study.load_model(exps[0], tmp_path)
    assert model.stage1.out.weight.shape[0] == exps[0].model.dim
    table = study.summarise(study.load_results(tmp_path), ["loss.reconstruction"], ["val_rms_ratio_db"])
    assert list(table["n_seeds"]) == [2, 2] and "val_rms_ratio_db_std" in table


def test_cli_lists_points(capsys):
    cli.study_main(["--profile", "quick", "--grid", "loss.eps=1e-8,1", "--seeds", "0", "1", "--list"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4 and lines[3].endswith("loss.eps=1|train.seed=1")


def test_run_key_ignores_the_name_and_group_by_setting(tiny):
    a, b = tiny.with_(name="a"), tiny.with_(name="b")
    assert study.run_key(a) == study.run_key(b)
    assert study.run_key(tiny) != study.run_key(tiny.with_(model={"input_scale": "raw"}))
    exps = study.grid(tiny.with_(train={"epochs": 1}), {"model.residual": ["leaky", "none"]}, seeds=[0, 1])
    from resmix.training.history import History
    hs = [History(e) for e in exps]
    groups = study.group(hs, "model.residual")
    assert list(groups) == ["leaky", "none"] and [len(v) for v in groups.values()] == [2, 2]
    pairs = study.group(hs, ["model.residual", "train.seed"])
    assert ("none", 1) in pairs and len(pairs) == 4

@pytest.mark.parametrize("setting, message", [
    ("train.amp=yes", r"--set train.amp=yes: TrainConfig.amp must be true or false \(bool\); got 'yes'"),
    ("model.d_model=abc", r"ModelConfig.d_model must be an integer; got 'abc' \(str\)"),
    ("train.epochs=2.0", r"TrainConfig.epochs must be an integer; got 2.0 \(float\)"),
    ("data=3", r"'data' is a section, not a setting; expected one of data.sample_rate"),
    ("foo=3", r"unknown setting 'foo'; expected section.field"),
    ("loss.epsilon=1", r"unknown setting 'loss.epsilon'; expected one of loss.anti_correlation"),
    ("train.amp", r"expected PATH=VALUE"),
    ("train.lr=inf", r"TrainConfig.lr must be a finite number > 0; got inf"),
    ("train.device=banana", r"--set train.device=banana: TrainConfig.device must be one of 'auto', 'cpu', 'cuda'"),
    ("train.seed=18446744073709551616", r"TrainConfig.seed must be an integer >= 0 and < 2\*\*63"),
])
def test_bad_settings_on_the_command_line_name_the_field(setting, message, capsys):
    with pytest.raises(SystemExit):
        cli.study_main(["--profile", "quick", "--set", setting, "--list"])
    assert re.search(message, capsys.readouterr().err)


def test_string_settings_keep_their_text(capsys):
    cli.study_main(["--profile", "quick", "--set", "train.device=cpu", "--set", "name=1", "--list"])
    assert capsys.readouterr().out.count("\t") == 6
    assert grids._set(quick(), "train.device", cli._parse_value("cuda", str)).train.device == "cuda"
    assert grids._set(quick(), "name", cli._parse_value("0", str)).name == "0"


def _numbers(h):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in h.records]


def _stored(tiny, tmp_path):
    exp = tiny.with_(train={"epochs": 2})
    h = study.run_one(exp, tmp_path)
    return exp, h, tmp_path / f"{study.run_key(exp)}.json"


def test_a_damaged_result_is_set_aside_and_recomputed(tiny, tmp_path):
    exp, h, path = _stored(tiny, tmp_path)
    text = path.read_text()
    path.write_text(text[:len(text) // 2])  # cut short
    with pytest.warns(DamagedFileWarning, match=r"\.json: damaged result \(JSONDecodeError"):
        assert study.load_results(tmp_path) == []
    assert path.with_name(path.name + ".damaged").exists() and not path.exists()
    (tmp_path / "notes.json").write_text('{"a": 1}')  # a stray file: skipped, untouched
    with pytest.warns(DamagedFileWarning, match=r"notes\.json: not a stored run.*left untouched"):
        assert study.load_results(tmp_path) == []
    path.write_text("[1, 2")
    with pytest.warns(DamagedFileWarning, match="it will be recomputed"):
        again = study.run_one(exp, tmp_path)
    assert _numbers(again) == _numbers(h) and (tmp_path / f"{path.name}.damaged1").exists()
    with pytest.warns(DamagedFileWarning, match="notes.json"):
        assert [_numbers(r) for r in study.load_results(tmp_path)] == [_numbers(h)]


def test_missing_weights_are_rebuilt(tiny, tmp_path):
    exp, h, path = _stored(tiny, tmp_path)
    weights = tmp_path / f"{study.run_key(exp)}.model.pt"
    weights.unlink()
    with pytest.raises(FileNotFoundError, match=r"model\.pt is missing although the result .* run_one\(exp, results\) retrains"):
        study.load_model(exp, tmp_path)
    with pytest.warns(UserWarning, match="retraining the run to rebuild its weights"):
        again = study.run_one(exp, tmp_path)
    assert again.records == h.records and again.model is not None  # the stored records are kept
    assert study.load_model(exp, tmp_path) is not None
    weights.write_bytes(b"")
    with pytest.warns(DamagedFileWarning), pytest.raises(ValueError, match="unreadable .* set aside"):
        study.load_model(exp, tmp_path)



def test_weights_of_another_shape_are_set_aside_not_a_size_mismatch(tiny, tmp_path):
    """Probe (issue 20): weights of another width under a run's key are set aside (runner.load_model)."""
    import torch
    exp, h, path = _stored(tiny, tmp_path)
    weights = tmp_path / f"{study.run_key(exp)}.model.pt"
    wide = study.run_one(exp.with_(model={"d_model": 32}, train={"epochs": 1}), tmp_path)
    torch.save(wide.model.state_dict(), weights)
    with pytest.warns(DamagedFileWarning, match=r"unreadable weights \(RuntimeError: Error\(s\) in loading state_dict"), \
            pytest.raises(ValueError, match=r"set aside; run_one\(exp, results\) retrains"):
        study.load_model(exp, tmp_path)
    assert (tmp_path / f"{weights.name}.damaged").exists()
    with pytest.warns(UserWarning, match="retraining the run to rebuild its weights"):
        assert study.run_one(exp, tmp_path).records == h.records
    assert study.load_model(exp, tmp_path) is not None


def test_stale_leftovers_are_cleaned_and_modes_follow_the_umask(tiny, tmp_path):
    old = os.umask(0o027)
    try:
        exp, h, path = _stored(tiny, tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    key = study.run_key(exp)
    leftovers = [tmp_path / "ckpt" / f"{key}.pt", tmp_path / f"{key}.json.x1y2z3.tmp",
                 tmp_path / "ckpt" / f"{key}.pt.abc123.tmp", tmp_path / f"{key}.model.pt.q9q9q9.tmp"]
    for p in leftovers:  # a kill between the JSON write and the checkpoint delete, or mid-write
        p.write_bytes(b"x")
    other = tmp_path / "ckpt" / "0123456789abcdef.pt.abc123.tmp"  # another run's: not ours to delete
    other.write_bytes(b"x")
    assert study.run_one(exp, tmp_path).records == h.records
    assert not any(p.exists() for p in leftovers) and other.exists()


def test_results_folder_is_checked_before_training(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "train_cohort", lambda *a, **k: pytest.fail("trained before checking the folder"))
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreError, match="results folder .*file is a file; expected a directory"):
        study.run_one(tiny, tmp_path / "file")
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o555)
        with pytest.raises(StoreError, match="is not a writable directory"):
            study.run_one(tiny, ro)


def test_a_claimed_run_waits_for_its_owner_then_loads_its_result(tiny, tmp_path, monkeypatch):
    exp, h, _ = _stored(tiny, tmp_path / "done")
    key, shared = study.run_key(exp), tmp_path / "shared"
    shared.mkdir()
    claimed = threading.Event()

    def owner():  # another process training this key: it stores the result, then lets go
        with claim(shared, key):
            claimed.set()
            time.sleep(0.5)
            for name in (f"{key}.json", f"{key}.model.pt"):
                shutil.copy(tmp_path / "done" / name, shared / name)

    monkeypatch.setattr(runner, "train_cohort", lambda *a, **k: pytest.fail("trained a claimed run twice"))
    t = threading.Thread(target=owner)
    t.start()
    claimed.wait()
    assert study.run_one(exp, shared).records == h.records
    t.join()


def test_run_keys_cover_every_setting_and_the_version(tiny):
    import dataclasses
    changed = [tiny.with_(model={"output_scale": 0.5}), tiny.with_(loss={"corr_axes": "frame"}),
               tiny.with_(train={"decay": "weights"}), tiny.with_(loss={"novelty_reduce": "mean"}),
               tiny.with_(train={"optimizer": "adam"}), tiny.with_(data={"source": "music"})]
    assert len({study.run_key(e) for e in changed} | {study.run_key(tiny)}) == len(changed) + 1
    assert study.run_key(dataclasses.replace(tiny, name="other")) == study.run_key(tiny)


def test_run_groups_returns_each_groups_runs_in_order(tiny, tmp_path):
    a = study.grid(tiny, {"train.lr": [1e-3]}, seeds=[0, 1])
    b = study.grid(tiny, {"train.lr": [3e-3]}, seeds=[0])
    out = study.run_groups({"a": a, "b": b}, tmp_path, progress=False)
    assert list(out) == ["a", "b"] and [len(v) for v in out.values()] == [2, 1]
    assert [h.experiment.train.seed for h in out["a"]] == [0, 1] and out["b"][0].experiment.train.lr == 3e-3


def _list(capsys, *argv):
    cli.study_main(["--profile", "quick", *argv, "--list"])
    return [line.split("\t") for line in capsys.readouterr().out.strip().splitlines()]


@pytest.mark.parametrize("argv, message", [
    (["--set", "train.seed=5", "--seeds", "0", "1"], r"--set train.seed=5 and --seeds 0 1 both set the model seed; use one"),
    (["--grid", "train.seed=1,2", "--seeds", "0"], r"--grid train.seed=1,2: the model seeds are the grid's own axis; use --seeds 1 2"),
    (["--grid", "train.seed=1,2"], r"the model seeds are the grid's own axis"),
    (["--grid", "loss.eps=1e-8", "--grid", "loss.eps=1"], r"--grid loss.eps is given twice; give each axis once"),
    (["--set", "loss.eps=1", "--grid", "loss.eps=1e-8,1"], r"--grid loss.eps=1e-8,1: loss.eps is fixed by --set loss.eps=1"),
    (["--set", "loss.eps=1", "--set", "loss.eps=2"], r"--set loss.eps=2: loss.eps is already set by --set loss.eps=1"),
    (["--grid", "loss.eps=1,1.0"], r"the grid's points 'loss.eps=1\|train.seed=0' and 'loss.eps=1.0\|train.seed=0' are the same run"),
    (["--seeds", "0", "0"], r"are the same run; give each value once"),
    (["--grid", "loss.eps"], r"--grid loss.eps: expected PATH=V1,V2"),
    (["--workers", "0"], r"argument --workers: expected an integer >= 1; got '0'"),
    (["--address", "127.0.0.1:6379"], r"--address apply to --backend ray; got --backend local"),
    (["--backend", "ray", "--gpus-per-run", "-1"], r"argument --gpus-per-run: expected a number >= 0"),
])
def test_the_cli_refuses_settings_that_would_be_overwritten_or_doubled(argv, message, capsys):
    """Regression (issue 20): --set train.seed=5 was overwritten by --seeds' default without a word,
    --grid train.seed=1,2 --seeds 0 gave two points of one key, a repeated --grid axis dropped the first."""
    with pytest.raises(SystemExit):
        _list(capsys, *argv)
    assert re.search(message, capsys.readouterr().err)


def test_set_train_seed_alone_is_the_grids_one_seed(capsys):
    rows = _list(capsys, "--set", "train.seed=5")
    assert [r[2] for r in rows] == ["train.seed=5"]
    assert [r[2] for r in _list(capsys)] == [f"train.seed={s}" for s in (0, 1, 2)]
    with pytest.raises(ValueError, match="train.seed is the grid's own axis"):
        study.grid(quick(), {"train.seed": [1, 2]}, seeds=[0])


def test_errors_of_the_run_are_one_line_not_a_traceback(tmp_path, capsys):
    """Regression (issue 20): a StoreError (results folder is a file) was shown as a traceback."""
    (tmp_path / "file").write_text("")
    argv = ["--profile", "quick", "--set", "train.epochs=1", "--seeds", "0", "--results", str(tmp_path / "file")]
    with pytest.raises(SystemExit, match=r"^python -m resmix.study: error: results folder .*file is a file; "
                                         r"expected a directory$"):
        cli.study_main(argv)


def test_a_bad_seed_is_named_as_the_seeds_option(capsys):
    with pytest.raises(SystemExit):
        _list(capsys, "--seeds", "0", "-1")
    assert "--seeds -1: TrainConfig.seed must be an integer >= 0" in capsys.readouterr().err
    from resmix.training.history import History
    with pytest.raises(ValueError, match="epoch index 5 is beyond them"):
        study.summarise([History(quick(), [{"epoch": 1.0, "x": 1.0}])], ["loss.eps"], ["x"], epoch=5)
