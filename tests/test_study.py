import json

import pytest

from resmix import study


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
    study.main(["--profile", "quick", "--grid", "loss.eps=1e-8,1", "--seeds", "0", "1", "--list"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4 and lines[3].endswith("loss.eps=1|train.seed=1")


def test_run_key_ignores_the_name_and_group_by_setting(tiny):
    a, b = tiny.with_(name="a"), tiny.with_(name="b")
    assert study.run_key(a) == study.run_key(b)
    assert study.run_key(tiny) != study.run_key(tiny.with_(model={"input_scale": "raw"}))
    exps = study.grid(tiny.with_(train={"epochs": 1}), {"model.residual": ["leaky", "none"]}, seeds=[0, 1])
    from resmix.train import History
    hs = [History(e) for e in exps]
    groups = study.group(hs, "model.residual")
    assert list(groups) == ["leaky", "none"] and [len(v) for v in groups.values()] == [2, 2]
    pairs = study.group(hs, ["model.residual", "train.seed"])
    assert ("none", 1) in pairs and len(pairs) == 4
