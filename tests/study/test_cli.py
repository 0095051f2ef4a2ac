"""resmix/study/cli.py: ``python -m resmix`` study, diagnose and bench."""
import json
import math
import subprocess
import sys

import pytest

from resmix import study
from resmix.config import get_profile
from resmix.data.framing import frame
from resmix.data.sources import held_out
from resmix.measure.diagnostics import diagnose
from resmix.study import cli
from resmix.training.single import train


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        (math.isnan(x) and math.isnan(y)) if isinstance(x, float) and math.isnan(x) else x == pytest.approx(y, abs=1e-6)
        for x, y in ((a[k], b[k]) for k in a))


def _direct(model, exp) -> dict:
    x, y = held_out(exp.data)
    D = exp.data.frame_size
    return diagnose(model, frame(x, D), frame(y, D), sample_rate=exp.data.sample_rate).measured


def test_python_m_resmix_names_its_three_commands():
    out = subprocess.run([sys.executable, "-m", "resmix", "--help"], capture_output=True, text=True, check=True).stdout
    assert "usage: resmix" in out and all(c in out for c in ("study", "diagnose", "bench"))
    none = subprocess.run([sys.executable, "-m", "resmix"], capture_output=True, text=True)
    assert none.returncode == 2 and "required" in none.stderr


def test_study_is_python_m_resmix_study(capsys):
    args = ["--profile", "quick", "--grid", "loss.eps=1e-8,1", "--seeds", "0", "--list"]
    assert cli.main(["study", *args]) == 0
    via_cli = capsys.readouterr().out
    cli.study_main(args)
    assert via_cli == capsys.readouterr().out
    keys = [line.split("\t")[1] for line in via_cli.splitlines()]
    exps = study.grid(get_profile("quick"), {"loss.eps": [1e-8, 1]}, [0])
    assert keys == [study.run_key(e) for e in exps]


def test_diagnose_a_stored_run_by_key_and_by_file(tiny, tmp_path, capsys):
    study.run_one(tiny, tmp_path)
    key = study.run_key(tiny)
    assert cli.main(["diagnose", key, "--results", str(tmp_path), "--json"]) == 0
    by_key = json.loads(capsys.readouterr().out)
    expected = _direct(study.load_model(tiny, tmp_path), tiny)
    assert _same({k: float("nan") if v is None else v for k, v in by_key["measured"].items()}, expected)
    assert by_key["experiment"] == tiny.name and isinstance(by_key["leaks"], bool)
    for path in (tmp_path / f"{key}.json", tmp_path / f"{key}.model.pt"):
        assert cli.main(["diagnose", str(path), "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == by_key
    assert cli.main(["diagnose", key, "--results", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "common_share" in text and "leaks" in text and "corr" in text


def test_diagnose_a_checkpoint(tiny, tmp_path, capsys):
    ckpt = tmp_path / "ckpt" / "run.pt"
    h = train(tiny, checkpoint=ckpt, progress=False)  # the checkpoint holds the last epoch's weights
    assert cli.main(["diagnose", str(ckpt), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["measured"]
    assert _same({k: float("nan") if v is None else v for k, v in got.items()}, _direct(h.model, tiny))


def test_diagnose_names_what_it_expected(tiny, tmp_path, capsys):
    study.run_one(tiny, tmp_path)
    assert cli.main(["diagnose", "no-such-key", "--results", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "no-such-key" in err and str(tmp_path) in err and study.run_key(tiny) in err
    (tmp_path / "ckpt").mkdir(exist_ok=True)
    torch = pytest.importorskip("torch")
    torch.save({"model": {}}, tmp_path / "ckpt" / "bad.pt")
    assert cli.main(["diagnose", str(tmp_path / "ckpt" / "bad.pt")]) == 1
    assert "not a resmix member checkpoint" in capsys.readouterr().err


def test_bench_runs_the_checkout_script(capsys):
    assert cli.find_bench() is not None  # this checkout has benchmarks/bench_train.py
    assert cli.main(["bench", "--help"]) == 0  # --help only: timing lives in make bench, never in a test
    assert "--profiles" in capsys.readouterr().out


def test_bench_without_a_checkout_says_where_to_get_it(monkeypatch, capsys):
    monkeypatch.setattr(cli, "find_bench", lambda: None)
    assert cli.main(["bench"]) == 2
    err = capsys.readouterr().err
    assert "git clone https://" in err and "benchmarks/bench_train.py" in err
