"""MKL's fast code path on AMD CPUs: which matmul kernels this process runs, and how to get the fast ones.

torch's CPU build links Intel oneMKL, which picks its kernels by CPU *vendor* before it looks at the
CPU's features: on an AMD CPU it dispatches to its code-0 kernels (``mkl_serv_cpu_detect() == 0``, AVX2-class;
MKL_VERBOSE names "Intel(R) Architecture processors"; called "generic" here) even where the CPU has AVX-512. MKL asks two functions of
its own whether the CPU is Intel's. A shared library that defines both to return 1 and is loaded with
``RTLD_GLOBAL`` *before* torch loads MKL is found first when MKL binds them, and MKL then dispatches by
the CPU's features (``mkl_serv_cpu_detect() == 7`` here: AVX-512). Loaded after torch, it does nothing.

Measured on this project's 2-core AMD EPYC (Zen 4, one thread; ``benchmarks/bench_peak.py``, three
runs): the FMA peak is 110-115 GFLOP/s; fp32 sgemm 1024^3 runs at 86-90 GFLOP/s on the generic path
and 104-107 with the shim; oneDNN's linear (which has no vendor check) at 92-101.

How it is set up, so that nobody does it by hand:

* ``make setup`` runs :func:`install`: on an AMD x86-64 Linux machine with a C
  compiler it builds the shim into the cache (the corpora's: ``RESMIX_CACHE``) and writes a one-line ``.pth`` file into the virtual
  environment, so every Python process of that environment (Jupyter kernels, pytest, Ray and
  multiprocessing workers) loads it at start-up, whatever it imports first;
* ``import resmix`` calls :func:`enable`, which does the same for the running process when torch
  is not imported yet (a reader's own environment, ``import resmix`` before ``import torch``).

An Intel CPU (which MKL dispatches by its features already), a CPU of another architecture, or a
torch without MKL is left alone; a GPU run's matmuls are not MKL's. ``RESMIX_MKL_FAST=0`` turns it off.
The fast path sums in another order, so a run's last digits depend on the path: every result
records it (:func:`matmul_path`, in the run's provenance).

Imports from: nothing in resmix (the standard library; torch only inside :func:`matmul_path`).
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

# The whole shim: MKL's two vendor checks, answered "Intel". (One alone moves the kernels too; with
# both, MKL_VERBOSE also names the path it takes, so the log and the kernels agree.)
SOURCE = "int mkl_serv_intel_cpu_true(void) { return 1; }\nint mkl_serv_intel_cpu(void) { return 1; }\n"
OFF_ENV = "RESMIX_MKL_FAST"  # "0" turns the shim off
PTH_NAME = "resmix_mkl_fast.pth"
# mkl_serv_cpu_detect()'s codes as seen here (0 without the shim, 7 with it, MKL_VERBOSE agreeing);
# other codes are printed as numbers rather than guessed at.
PATHS = {0: "generic", 7: "AVX-512"}

_state = "not tried"


class ShimError(RuntimeError):
    """The shim could not be built: no C compiler, or the compiler failed (the message says which)."""


def wants_shim() -> bool:
    """Whether this machine needs the shim: Linux on x86-64 with an AMD CPU, and not turned off."""
    if os.environ.get(OFF_ENV, "1") == "0" or sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        return False
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("vendor_id") and "AuthenticAMD" in line for line in f)
    except OSError:
        return False


def shim_file() -> Path:
    """Where the built shim lives: the cache (``RESMIX_CACHE``, else ``~/.cache/resmix``), named by its source."""
    cache = Path(os.environ.get("RESMIX_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "resmix")
    return cache / f"mkl-vendor-{hashlib.sha1(SOURCE.encode()).hexdigest()[:12]}.so"


def build() -> Path:
    """Compile the shim into :func:`shim_file` (once; written atomically) and return its path."""
    target = shim_file()
    if target.exists():
        return target
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise ShimError("no C compiler (cc or gcc) to build MKL's vendor shim; install gcc, "
                        f"or set {OFF_ENV}=0 to run on MKL's generic path")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        src, lib = Path(tmp) / "shim.c", Path(tmp) / "shim.so"
        src.write_text(SOURCE)
        try:
            done = subprocess.run([cc, "-shared", "-fPIC", "-O2", "-o", str(lib), str(src)],
                                  capture_output=True, text=True)
        except OSError as err:
            raise ShimError(f"the C compiler {cc} could not run to build MKL's vendor shim: {err}") from err
        if done.returncode != 0:
            raise ShimError(f"{cc} could not build MKL's vendor shim: {done.stderr.strip()[:500]}")
        os.replace(lib, target)
    return target


def shim_loaded() -> bool:
    """Whether the shim is mapped into this process (by :func:`enable` or the environment's ``.pth``)."""
    try:
        with open("/proc/self/maps") as f:
            return any("/mkl-vendor-" in line for line in f)
    except OSError:
        return False


def enable() -> str:
    """Load the shim into this process if it needs it and it can still act; returns what happened.

    Never raises: a machine that cannot build the shim runs on MKL's generic path, and
    :func:`matmul_path` says so.
    """
    global _state
    if os.environ.get(OFF_ENV, "1") == "0":
        _state = f"turned off ({OFF_ENV}=0)"
    elif not wants_shim():
        _state = "not needed"
    elif shim_loaded():
        _state = "loaded"
    elif "torch" in sys.modules:
        _state = "too late (torch was imported first)"
    else:
        try:
            ctypes.CDLL(str(build()), mode=ctypes.RTLD_GLOBAL)
            _state = "loaded"
        except (ShimError, OSError) as err:
            _state = f"not built ({err})"
    return _state


@dataclass(frozen=True)
class MatmulPath:
    """Which matmul kernels this process runs on the CPU.

    ``blas``: "mkl" or torch's other BLAS; ``mkl_code``: ``mkl_serv_cpu_detect()`` (None without MKL);
    ``path``: its name ("generic", "AVX-512", ...); ``fast``: MKL dispatches by the CPU's features
    rather than its generic path; ``shim``: what :func:`enable` did in this process.
    """
    blas: str
    mkl_code: int | None
    path: str
    fast: bool
    shim: str

    def __str__(self) -> str:
        return f"{self.blas} {self.path} path" + (f" (mkl_serv_cpu_detect {self.mkl_code}; shim: {self.shim})"
                                                  if self.mkl_code is not None else "")


def matmul_path() -> MatmulPath:
    """Ask MKL (through torch's own library) which code path it dispatches to."""
    import torch
    shim = "loaded" if shim_loaded() else _state
    if not torch.backends.mkl.is_available():
        return MatmulPath("not mkl", None, "torch's default", True, shim)
    lib = Path(torch.__file__).parent / "lib" / ("libtorch_cpu.so" if sys.platform == "linux" else "")
    try:
        code = int(ctypes.CDLL(str(lib)).mkl_serv_cpu_detect())
    except (OSError, AttributeError):
        return MatmulPath("mkl", None, "unknown (mkl_serv_cpu_detect not found)", True, shim)
    return MatmulPath("mkl", code, PATHS.get(code, f"code {code}"), code != 0, shim)


def pth_line(lib: Path) -> str:
    """The ``.pth`` line that loads the shim at every start of the environment's Python.

    It never fails: site runs a ``.pth`` line that starts with ``import`` as code, and an error there
    would print at every interpreter start, so a missing or unloadable library is skipped.
    """
    body = ("try:\n"
            f"    os.environ.get('RESMIX_MKL_FAST', '1') != '0' and os.path.exists({str(lib)!r}) and "
            f"ctypes.CDLL({str(lib)!r}, mode=ctypes.RTLD_GLOBAL)\n"
            "except OSError:\n    pass\n")
    return "import os, ctypes; exec(%r)\n" % body


def install() -> str:
    """Build the shim and write the ``.pth`` file into this environment's site-packages (``make setup``)."""
    site = Path(sysconfig.get_paths()["purelib"])
    pth = site / PTH_NAME
    if not wants_shim():
        pth.unlink(missing_ok=True)
        return "MKL vendor shim: not needed here (not an AMD x86-64 Linux CPU, or turned off)"
    try:
        lib = build()
    except ShimError as err:
        pth.unlink(missing_ok=True)
        return f"MKL vendor shim: {err}"
    tmp = pth.with_suffix(".tmp")
    tmp.write_text(pth_line(lib))
    os.replace(tmp, pth)
    return f"MKL vendor shim: {lib} loads at every start of {sys.executable} ({pth})"

