"""Faults: a study process killed (SIGKILL) at a random point resumes to the records of an uninterrupted run."""
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import resmix
from resmix import study
from resmix.config import get_profile
from resmix.study import cli, grids

TINY = ["data.clip_seconds=0.128", "data.n_train=16", "data.n_val=8", "model.d_model=16",
        "model.n_layers=1", "model.n_heads=2", "train.epochs=3", "train.batch_size=8"]
AXES = {"loss.reconstruction": ["0", "0.1"]}
SEEDS = [0, 1]


def _argv(results: Path) -> list[str]:
    argv = ["--profile", "quick"]
    for s in TINY:
        argv += ["--set", s]
    for path, values in AXES.items():
        argv += ["--grid", f"{path}={','.join(values)}"]
    return argv + ["--seeds", *map(str, SEEDS), "--results", str(results)]


def _experiments():
    """The grid the command line builds, built the same way in this process."""
    base = get_profile("quick")
    for s in TINY:
        path, _, value = s.partition("=")
        base = grids._set(base, path, cli._parse_value(value, grids._setting_type(base, path)))
    axes = {p: [cli._parse_value(v, grids._setting_type(base, p)) for v in vs] for p, vs in AXES.items()}
    return study.grid(base, axes, SEEDS)


def _files(folder: Path) -> dict[str, int]:
    """Files under ``folder`` but the claims, with their modification times: they change once training writes."""
    files = folder.rglob("*") if folder.exists() else []
    return {str(p): p.stat().st_mtime_ns for p in files if p.parent.name != "locks" and p.is_file()}


def _numbers(histories):
    rows = {study.run_key(h.experiment): h.records for h in histories}
    return {k: [{m: v for m, v in r.items() if m != "seconds"} for r in rs] for k, rs in sorted(rows.items())}


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_killed_grid_resumes_to_the_uninterrupted_records(tmp_path):
    seed = int.from_bytes(os.urandom(4), "little")
    rng = random.Random(seed)
    exps = _experiments()
    reference = _numbers(study.run_grid(exps, tmp_path / "reference", progress=False))
    results = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(resmix.__file__).parents[1]),
                                                                 os.environ.get("PYTHONPATH")]))}
    kills = []
    for _ in range(2):  # kill it, then kill the resumed process too
        proc = subprocess.Popen([sys.executable, "-m", "resmix.study", *_argv(results)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        before = _files(results)
        while proc.poll() is None and _files(results) == before:  # wait until it writes something
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.8))  # then kill it anywhere: mid-epoch, mid-write, between files
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills.append(sorted(p.name for p in results.rglob("*") if p.is_file() and p.suffix != ".lock"))
        err = proc.communicate()[1].decode()
        assert proc.returncode in (0, -signal.SIGKILL), err
    resumed = study.run_grid(exps, results, progress=False)
    assert _numbers(resumed) == reference, f"random seed {seed}, killed with {kills} runs stored"
    assert _numbers(study.load_results(results)) == reference
    leftovers = [p.name for p in results.rglob("*") if p.suffix in (".tmp", ".damaged") or p.parent.name == "ckpt"]
    assert not leftovers, f"random seed {seed}: {leftovers}"
