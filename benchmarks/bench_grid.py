"""The path the book uses: ``study.run_grid`` of 16 quick runs, this checkout against 0.3.0's, one worker.

16 runs (2 designs x 2 learning rates x 4 seeds), each 4 epochs of 32 steps (128 steps), trained
through each version's own ``study.run_grid`` into a fresh folder, in alternating rounds so that
machine noise hits both. 0.3.0 (commit 3fcdbf3, one model at a time) is taken from this repository's
history with ``git archive`` into a temporary folder; each side runs in its own interpreter with
that version first on ``sys.path``. Prints each side's wall time (training, evaluation, checkpoints
and result files included) and the ratio.

    python benchmarks/bench_grid.py               # about 5 minutes on the 2-core CPU
    python benchmarks/bench_grid.py --rounds 1 --baseline 3fcdbf3
"""
from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN = r"""
import json, sys, tempfile, time
sys.path.insert(0, sys.argv[1])
import resmix
from resmix import study
from resmix.config import get_profile
assert resmix.__file__.startswith(sys.argv[1]), resmix.__file__
base = get_profile("quick").with_(train={"epochs": 4})
exps = study.grid(base, {"model.residual": ["leaky", "none"], "train.lr": [1e-3, 3e-3]}, seeds=[0, 1, 2, 3])
with tempfile.TemporaryDirectory() as d:
    t = time.perf_counter()
    hs = study.run_grid(exps, d, workers=1, progress=False)
    seconds = time.perf_counter() - t
import ctypes, os, torch  # which MKL path this side ran (0.3.0 has no resmix._mkl to ask)
try:
    code = int(ctypes.CDLL(os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so")).mkl_serv_cpu_detect())
except (OSError, AttributeError):
    code = None
print(json.dumps({"seconds": seconds, "runs": len(hs), "version": resmix.__version__, "mkl_code": code}))
"""


def _side(source: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", RUN, str(source)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench_grid: the run from {source} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--baseline", default="3fcdbf3", help="the commit to compare with (0.3.0's)")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.baseline, "resmix"],
                                 capture_output=True, check=True).stdout
        tarfile.open(fileobj=io.BytesIO(archive)).extractall(tmp, filter="data")
        sides = {"baseline": Path(tmp), "this": ROOT}
        times: dict[str, list[float]] = {k: [] for k in sides}
        for _ in range(args.rounds):
            for name, source in sides.items():
                r = _side(source)
                times[name].append(r["seconds"])
                print(f"{name} (resmix {r['version']}, mkl_serv_cpu_detect {r['mkl_code']}): {r['seconds']:.1f} s "
                      f"for {r['runs']} runs", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"run_grid of 16 quick runs, one worker: {args.baseline} {med['baseline']:.1f} s, this checkout "
          f"{med['this']:.1f} s: {med['baseline'] / med['this']:.2f}x (median of {args.rounds})")


if __name__ == "__main__":
    main()
