"""study.run_grid: the progress line, the backend choice, local processes in grid order."""
import pytest
import torch

from resmix import study
from resmix.study import cli


def _strip(histories):
    """Records without timings; on CUDA, rounded: its kernels need not sum in the same order twice."""
    keep = (lambda v: round(v, 4)) if torch.cuda.is_available() else (lambda v: v)
    return [[{k: keep(v) for k, v in r.items() if k != "seconds"} for r in h.records] for h in histories]


def test_one_progress_line_counts_runs_done_and_stored(tiny, tmp_path, capsys):
    exps = study.grid(tiny.with_(train={"epochs": 1}), {"loss.eps": [1e-8, 1.0]}, seeds=[0, 1])
    study.run_one(exps[2], tmp_path)
    capsys.readouterr()
    study.run_grid(exps, tmp_path, progress=True)
    line = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]  # tqdm redraws one line
    assert line.startswith("runs: 100%") and "4/4" in line and "stored=1" in line, line


def test_local_processes_return_runs_in_grid_order(tiny, tmp_path):
    exps = study.grid(tiny.with_(train={"epochs": 2}), {"loss.reconstruction": [0.0, 0.1]}, seeds=[0])
    torch.set_num_threads(1)  # as each worker process
    serial = study.run_grid(exps, tmp_path / "serial", progress=False)
    pool = study.run_grid(exps, tmp_path / "pool", workers=2, progress=False)
    assert [h.experiment.name for h in pool] == [e.name for e in exps]
    assert _strip(pool) == _strip(serial)


def test_unknown_backend_is_refused(tiny, tmp_path):
    with pytest.raises(ValueError, match="backend must be 'local' or 'ray'; got 'dask'"):
        study.run_grid([tiny], tmp_path, backend="dask")


def test_cli_refuses_an_unknown_backend(capsys):
    with pytest.raises(SystemExit):
        cli.study_main(["--profile", "quick", "--backend", "dask", "--list"])
    assert "invalid choice: 'dask'" in capsys.readouterr().err


def test_resmix_imports_without_ray():
    import subprocess
    import sys
    code = "import sys, resmix, resmix.study; assert 'ray' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_grid_already_stored_submits_nothing(tiny, tmp_path, monkeypatch):
    from resmix.study import ray_backend
    exps = study.grid(tiny.with_(train={"epochs": 1}), {"loss.eps": [1e-8, 1.0]})
    local = study.run_grid(exps, tmp_path, progress=False)

    def refuse(*args, **kwargs):
        raise AssertionError("a stored run was submitted")
    monkeypatch.setattr(ray_backend, "run_grid_ray", refuse)
    again = study.run_grid(exps, tmp_path, progress=False, backend="ray", address="127.0.0.1:1")
    assert _strip(again) == _strip(local)
