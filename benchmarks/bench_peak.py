"""This CPU's fp32 peak, and how close torch's matmuls come to it on MKL's generic and fast paths.

The peak is measured, not looked up: a C loop of 12 independent AVX-512 (else AVX2) FMA chains,
every one kept live, compiled here with ``cc`` and run on one thread, then on two at once. The
matmuls run in fresh interpreters (MKL binds its vendor check once per process), with
``RESMIX_MKL_FAST=0`` (MKL's generic path on an AMD CPU) and without it (the shim of
:mod:`resmix._mkl`), one thread each, alternating rounds so that machine noise hits both:

* ``sgemm``: fp32 ``a @ b`` at 1024^3;
* ``bmm``: ``torch.baddbmm`` at a quick cohort's shape (E=16 members, 8 clips x 32 frames = 256 tokens, 64 -> 256);
* ``onednn``: ``torch._C._nn.mkldnn_linear`` at 1024^3 (oneDNN has no vendor check: a second opinion).

    python benchmarks/bench_peak.py             # about a minute
    python benchmarks/bench_peak.py --rounds 5 --json peak.json
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

FMA = r"""
#include <immintrin.h>
#include <stdio.h>
#include <time.h>
#ifdef __AVX512F__
typedef __m512 V; enum { W = 16 };
#define SET _mm512_set1_ps
#define FMADD _mm512_fmadd_ps
#define SUM(x) _mm512_reduce_add_ps(x)
#else
typedef __m256 V; enum { W = 8 };
#define SET _mm256_set1_ps
#define FMADD _mm256_fmadd_ps
static float SUM(__m256 x) { float f[8]; _mm256_storeu_ps(f, x); return f[0] + f[7]; }
#endif
int main(void) {
  V b = SET(1.0000001f), c = SET(0.999999f);
  V a0 = SET(1), a1 = SET(2), a2 = SET(3), a3 = SET(4), a4 = SET(5), a5 = SET(6),
    a6 = SET(7), a7 = SET(8), a8 = SET(9), a9 = SET(10), a10 = SET(11), a11 = SET(12);
  long n = 100000000; struct timespec t0, t1; clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long k = 0; k < n; k++) {
#define F(x) x = FMADD(x, b, c);
    F(a0) F(a1) F(a2) F(a3) F(a4) F(a5) F(a6) F(a7) F(a8) F(a9) F(a10) F(a11)
    __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5),
                          "+x"(a6), "+x"(a7), "+x"(a8), "+x"(a9), "+x"(a10), "+x"(a11));
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
  printf("%.2f %d %g\n", n * 12.0 * W * 2 / s / 1e9, W,
         SUM(a0) + SUM(a1) + SUM(a2) + SUM(a3) + SUM(a4) + SUM(a5) + SUM(a6) + SUM(a7) + SUM(a8) + SUM(a9) + SUM(a10) + SUM(a11));
  return 0;
}
"""

MATMULS = r"""
import json, sys, time
import torch
from resmix._mkl import matmul_path
torch.set_num_threads(1)
g = torch.Generator().manual_seed(0)
a, b = torch.randn(1024, 1024, generator=g), torch.randn(1024, 1024, generator=g)
x, w, bias = torch.randn(16, 256, 64, generator=g), torch.randn(16, 64, 256, generator=g), torch.randn(16, 1, 256, generator=g)
cases = {"sgemm": (lambda: a @ b, 2 * 1024 ** 3),
         "bmm": (lambda: torch.baddbmm(bias, x, w), 2 * 16 * 256 * 64 * 256),
         "onednn": (lambda: torch._C._nn.mkldnn_linear(a.to_mkldnn(), b.to_mkldnn()), 2 * 1024 ** 3)}
p = matmul_path()
out = {"path": str(p), "fast": p.fast, "code": p.mkl_code}
for name, (fn, flops) in cases.items():
    try:
        for _ in range(3):
            fn()
        n, t = 0, time.perf_counter()
        while time.perf_counter() - t < 1.0:
            fn(); n += 1
        out[name] = flops * n / (time.perf_counter() - t) / 1e9
    except RuntimeError:  # a torch without oneDNN
        out[name] = None
print(json.dumps(out))
"""


def fma_peak(threads: int) -> tuple[float, int] | None:
    """GFLOP/s of ``threads`` copies of the FMA loop at once (summed), and the vector width; None without cc."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        src, exe = Path(tmp) / "fma.c", Path(tmp) / "fma"
        src.write_text(FMA)
        subprocess.run([cc, "-O2", "-march=native", "-o", str(exe), str(src)], check=True)
        procs = [subprocess.Popen([str(exe)], stdout=subprocess.PIPE, text=True) for _ in range(threads)]
        rows = [p.communicate()[0].split() for p in procs]
    return sum(float(r[0]) for r in rows), int(rows[0][1])


def matmuls(fast: bool) -> dict:
    env = {**os.environ, "RESMIX_MKL_FAST": "1" if fast else "0", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", MATMULS], capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    peaks = {t: [fma_peak(t) for _ in range(args.rounds)] for t in (1, 2)}
    runs = {True: [], False: []}
    for _ in range(args.rounds):
        for fast in (False, True):
            runs[fast].append(matmuls(fast))
            if fast and runs[True][-1]["code"] == 0:
                sys.exit(f"the fast side runs MKL's code-0 path ({runs[True][-1]['path']}): the shim did not load; "
                         "run `make setup` (resmix._mkl.install) or check that a C compiler is installed")
    if runs[False][0]["fast"]:
        print(f"note: RESMIX_MKL_FAST=0 changes nothing on this CPU ({runs[False][0]['path']}): MKL dispatches by "
              "its features already, so both columns time the same path")
    result = {"fma_peak_gflops": {t: statistics.median(p[0] for p in v) if v[0] else None for t, v in peaks.items()},
              "vector_width": peaks[1][0][1] if peaks[1][0] else None}
    one = result["fma_peak_gflops"][1]
    print(f"FMA peak (fp32, {result['vector_width']} lanes): one thread {one:.0f} GFLOP/s, "
          f"two at once {result['fma_peak_gflops'][2]:.0f} GFLOP/s" if one else "FMA peak: no C compiler")
    print(f"{'matmul (1 thread)':<20}{'RESMIX_MKL_FAST=0':>18}{'shim on':>14}{'ratio':>8}")
    for name in ("sgemm", "bmm", "onednn"):
        med = {f: statistics.median(r[name] for r in runs[f]) if runs[f][0][name] else float("nan") for f in runs}
        result[name] = {"generic": med[False], "fast": med[True]}
        share = lambda g: f"{g:7.1f}" + (f" {100 * g / one:3.0f}%" if one else "")  # noqa: E731
        print(f"{name:<20}{share(med[False]):>18}{share(med[True]):>14}{med[True] / med[False]:>7.2f}x")
    print(f"paths: {runs[False][0]['path']} | {runs[True][0]['path']}")
    result["paths"] = {"generic": runs[False][0]["path"], "fast": runs[True][0]["path"]}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
