"""MKL's fast path: on, where it should be, and equal in what it computes.

The shim is checked the way a reader meets it: in fresh interpreters (MKL binds its vendor
check once per process), with and without ``RESMIX_MKL_FAST=0``, importing torch first or resmix
first. Timing lives in ``benchmarks/bench_peak.py``, never here.
"""
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import torch

from resmix import _mkl

AMD_MKL = _mkl.wants_shim() and torch.backends.mkl.is_available()
needs_amd_mkl = pytest.mark.skipif(not AMD_MKL, reason="the shim acts only on an AMD x86-64 Linux CPU with torch's MKL")


def _intel() -> bool:
    try:
        return any(line.startswith("vendor_id") and "GenuineIntel" in line for line in open("/proc/cpuinfo"))
    except OSError:
        return False


def _avx512() -> bool:
    try:
        return any(line.startswith("flags") and " avx512f" in line for line in open("/proc/cpuinfo"))
    except OSError:
        return False

PROBE = """
import json, sys
first = sys.argv[1]
if first == "resmix":
    import resmix
import torch
from resmix._mkl import matmul_path
g = torch.Generator().manual_seed(0)
a, b = torch.randn(96, 80, generator=g), torch.randn(80, 72, generator=g)
p = matmul_path()
print(json.dumps({"fast": p.fast, "code": p.mkl_code, "path": p.path, "shim": p.shim, "ab": (a @ b).tolist()}))
"""


def _probe(first: str, **env) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, first], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@needs_amd_mkl
def test_the_environment_runs_mkl_fast_path_whatever_is_imported_first():
    # The test that fails if the fast path is silently off: make setup wrote the .pth, so this
    # interpreter and any fresh one take MKL's feature-dispatched path even with torch imported first.
    pth = Path(sysconfig.get_paths()["purelib"]) / _mkl.PTH_NAME
    assert pth.exists(), f"{pth} is missing: run `make setup` (resmix._mkl.install) to get MKL's fast path"
    assert _mkl.matmul_path().fast, f"this test process runs {_mkl.matmul_path()}"
    for first in ("torch", "resmix"):
        seen = _probe(first)
        assert seen["fast"] and seen["code"] != 0 and seen["shim"] == "loaded", (first, seen)


@needs_amd_mkl
def test_turned_off_it_is_the_generic_path_and_the_product_agrees_to_rounding():
    # The negative control: RESMIX_MKL_FAST=0 stops both the .pth and resmix's own loading, and MKL
    # falls back to its code-0 path; the two paths' products agree to float32 rounding (whether their
    # last digits differ depends on the shape, so that is not asserted).
    off, on = _probe("resmix", RESMIX_MKL_FAST="0"), _probe("resmix")
    assert (off["code"], off["path"], off["fast"]) == (0, "generic", False)
    assert on["fast"] and on["code"] != 0, on
    assert off["shim"].startswith("turned off")
    a, b = torch.tensor(off["ab"]), torch.tensor(on["ab"])
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@needs_amd_mkl
def test_resmix_imported_before_torch_loads_the_shim_without_the_pth(tmp_path):
    # A reader's own environment has no .pth: `import resmix` first is enough; torch first is too late,
    # and matmul_path says so rather than claiming the fast path.
    # -S: site does not run, so no .pth file runs; the same import paths are set by hand
    code = f"import sys; sys.path[:] = [{str(Path(_mkl.__file__).parents[1])!r}] + {sys.path!r}\n"
    script = tmp_path / "probe.py"
    script.write_text(code + PROBE)
    for first, fast in (("resmix", True), ("torch", False)):
        done = subprocess.run([sys.executable, "-S", str(script), first], capture_output=True, text=True,
                              timeout=120, env={**os.environ, "RESMIX_CACHE": str(tmp_path / "cache")})
        assert done.returncode == 0, done.stderr
        seen = json.loads(done.stdout.strip().splitlines()[-1])
        assert seen["fast"] is fast, (first, seen)
        if not fast:
            assert seen["shim"].startswith("too late"), seen


def test_the_pth_line_is_one_import_line_that_never_fails(tmp_path):
    line = _mkl.pth_line(tmp_path / "absent.so")
    assert line.startswith("import ") and line.count("\n") == 1  # site runs .pth lines that start with import
    exec(line, {})  # a missing library is skipped, not an error at every interpreter start


def test_no_compiler_is_a_clear_error_naming_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("RESMIX_CACHE", str(tmp_path))
    monkeypatch.setattr(_mkl.shutil, "which", lambda name: None)
    monkeypatch.setenv("CC", "")
    with pytest.raises(_mkl.ShimError, match="no C compiler.*install gcc.*RESMIX_MKL_FAST=0"):
        _mkl.build()
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    with pytest.raises(_mkl.ShimError, match="no-such-cc"):
        _mkl.build()
    assert not list(tmp_path.rglob("*.so"))  # nothing half-built is left to be loaded later


def test_matmul_path_names_what_it_read():
    p = _mkl.matmul_path()
    assert p.blas in str(p) and p.path in str(p)
    if p.mkl_code is not None:
        assert f"mkl_serv_cpu_detect {p.mkl_code}; shim: {p.shim}" in str(p)


@pytest.mark.skipif(not (_intel() and _avx512() and torch.backends.mkl.is_available()),
                    reason="an Intel x86-64 CPU with AVX-512 and torch's MKL")
def test_an_intel_cpu_gets_mkls_avx512_path_without_the_shim():
    # The other side of the route: on Intel, MKL dispatches by the CPU's features by itself, so the
    # shim is neither built nor needed, and the environment runs the AVX-512 path either way.
    assert not _mkl.wants_shim()
    for env in ({}, {"RESMIX_MKL_FAST": "0"}):
        seen = _probe("torch", **env)
        assert seen["fast"] and seen["code"] not in (None, 0), (env, seen)  # 7 (AVX-512) on a Sapphire Rapids
        assert seen["shim"] in ("not needed", "turned off (RESMIX_MKL_FAST=0)"), seen
