"""tools/gpu_check.sh and tools/gpu_report.py, as far as a CPU allows (the GPU runs them for real)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from resmix.config import quick

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "gpu_check.sh"
sys.path.insert(0, str(ROOT / "tools"))
import gpu_report  # noqa: E402


def _run(*args, **env):
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          env=os.environ | {"PYTHON": sys.executable} | env)


def test_dry_run_prints_the_plan(tmp_path):
    r = _run("--dry-run", "--out", str(tmp_path), "--peak-tflops", "790", "--chapter", "03_fixed")
    assert r.returncode == 0, r.stderr
    plan = r.stdout.splitlines()
    assert [line.split(":")[0] for line in plan] == ["install", "tests", "bench", "cohort", "chapter", "chapters", "report"]
    assert "--peak-tflops 790" in plan[2] and "bench_cohort.py --peak-tflops 790" in plan[3]
    assert "RESMIX_PROFILE=full" in plan[4] and "book/03_fixed.ipynb" in plan[4]
    assert "book/02_algebra.ipynb book/03_fixed.ipynb" in plan[5]
    assert not list(tmp_path.iterdir())  # a dry run writes nothing


@pytest.mark.parametrize("args, message", [
    (["--peak-tflops", "lots"], "--peak-tflops must be a number"),
    (["--steps", "tests,train"], "--steps takes tests,bench,cohort,chapter,chapters"),
    (["--chapter", "99_none"], "no chapter book/99_none.ipynb"),
    (["--frobnicate"], "unknown argument: --frobnicate"),
])
def test_bad_arguments_are_refused(args, message):
    r = _run(*args, "--dry-run")
    assert r.returncode == 2 and message in r.stderr


def test_stops_without_cuda_unless_allowed(tmp_path):
    pytest.importorskip("torch").cuda.is_available() and pytest.skip("this machine has CUDA")
    r = _run("--out", str(tmp_path), "--wheels", str(tmp_path / "none"), "--steps", "bench")
    assert r.returncode == 1 and "no CUDA device" in r.stderr


def test_bench_step_and_report_on_cpu(tmp_path):
    r = _run("--out", str(tmp_path), "--wheels", str(tmp_path / "none"), "--steps", "bench", "--allow-cpu",
             "--peak-tflops", "0.2", "--bench-args", "--profiles quick --precision fp32 --rounds 1 --steps 1")
    assert r.returncode == 0, r.stdout + r.stderr
    report = (tmp_path / "report.md").read_text()
    assert "| benchmark, quick and full sizes | ok |" in report
    assert f"| quick (batch {quick().train.batch_size}, d_model {quick().model.d_model}) | fp32 | resmix |" in report
    import torch
    assert json.loads((tmp_path / "env.txt").read_text())["cuda_available"] is torch.cuda.is_available()


def test_report_reads_logs_and_bench(tmp_path):
    (tmp_path / "tests.log").write_text("....s\n==== 40 passed, 1 skipped in 12.0s ====\n")
    (tmp_path / "chapter.log").write_text("F\n1 failed in 3.0s\n")
    bench = {"peak_gflops": 790e3, "results": [{
        "profile": "full", "precision": "bf16", "batch": 64, "d_model": 256, "ratio": 1.25,
        "samples_per_s": {"resmix": 1000.0, "nn.TransformerEncoder": 800.0},
        "achieved_gflops": {"resmix": 79e3, "nn.TransformerEncoder": 63.2e3}, "peak_mib": {"resmix": 900.0}}]}
    (tmp_path / "bench.json").write_text(json.dumps(bench))
    gpu_report.main([str(tmp_path), "tests=0:12", "chapter=1:3", "bench=124:180", "--seconds", "200"])
    report = (tmp_path / "report.md").read_text()
    assert "| unit tests (tests/test_cuda.py, then the rest) | ok | 12 | 40 passed, 1 skipped in 12.0s |" in report
    assert "failed (exit 1)" in report and "timed out" in report and "Total: 200 s." in report
    assert "| full (batch 64, d_model 256) | bf16 | resmix | 1000.0 | 79.000 | 10.00% | 1.250 | 900 |" in report
    with pytest.raises(SystemExit, match="name=exit status:seconds"):
        gpu_report.main([str(tmp_path), "tests=ok"])
