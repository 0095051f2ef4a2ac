"""Stored campaigns: runs too long for CI, kept in the repository as records, and re-derived in part.

A campaign is trained by :func:`run_campaign` into a scratch folder (results, weights and checkpoints,
so that an interrupted campaign goes on from every run's last epoch when started again), and stored by
:func:`store_campaign` as each run's JSON (experiment, records, provenance) under ``runs/`` with a
``manifest.json`` (what was run, by which commit, on what, how long, how large). No weights and no
checkpoints are stored. :func:`load_campaign` serves the runs only when every file passes the store's
checks (its key recomputed from its settings) and the folder holds exactly the manifest's runs.
:func:`rederive` trains the first epochs of a stored run again and compares its records with the
stored ones, so that a stored run's first epochs cannot drift from the code unnoticed (its later
epochs, which carry the verdicts, are made by the same code from there on).

Imports from: the foundation, resmix.training, and this layer's keys, store and grids.
"""
from __future__ import annotations

import json
import math
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

from resmix._io import atomic_path
from resmix.config import Experiment
from resmix.training.history import History, provenance

from .grids import load_results, run_grid
from .keys import run_key

MANIFEST = "manifest.json"
# Records compared by rederive, all but wall time.
_NOT_COMPARED = ("seconds",)
# Across machines whose matmuls differ (another MKL code path, torch version or device), rounding
# differs in the last bits and training carries it on; the prefix is then compared as numpy.isclose does,
# |new - stored| <= ATOL + RTOL |stored|, instead of exactly. Measured on a Sapphire Rapids Xeon, two
# epochs of twelve of the third registration's configurations on MKL's AVX-512 against its AVX2 kernels
# (MKL_ENABLE_INSTRUCTIONS=AVX2) differ by at most 8.5e-5 relative; RTOL is 12 times that, far below
# the 1% change of one record that tests/study/test_campaigns.py shows it catches. (Its MR-STFT runs are
# chaotic across kernels and differ by far more: tests/book/test_book_campaigns.py compares them only on
# the CPU that stored them.)
CROSS_MACHINE_RTOL = 1e-3
CROSS_MACHINE_ATOL = 1e-6  # for values near 0 (correlations of independent signals)


class CampaignError(ValueError):
    """A stored campaign that cannot be served: files missing, extra or damaged (the message names them)."""


def run_campaign(exps: Sequence[Experiment], scratch: str | Path, workers: int = 1, progress: bool = True) -> list[History]:
    """Train (or resume) every run of a campaign into ``scratch``: :func:`resmix.study.grids.run_grid`'s folder."""
    return run_grid(exps, scratch, workers=workers, progress=progress)


def _git(root: Path, *args: str) -> str:
    try:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _write_json(obj: Any, path: Path, indent: int | None = None) -> None:
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(obj, f, indent=indent, separators=None if indent else (",", ":"))


def cpu_model() -> str:
    """The CPU: its model name, vendor, family and model number (``/proc/cpuinfo``; ``platform`` gives none
    of them on Linux). Two machines with the same matmul code path can still block their matmuls
    differently (cache sizes), so an exact re-derivation is asked for only on the same CPU."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if not line.strip():
                    break
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        return "unknown"
    return (f"{fields.get('model name', 'unknown')} ({fields.get('vendor_id', '?')}, family "
            f"{fields.get('cpu family', '?')}, model {fields.get('model', '?')})")


def store_campaign(name: str, histories: Sequence[History], folder: str | Path, repo: str | Path,
                   registration: str, command: str) -> dict[str, Any]:
    """Store a finished campaign's records in ``folder`` (``runs/<key>.json`` and the manifest); returns the manifest.

    Args:
        registration: the module that registered it and its commit (``"resmix.registrations.third, 11533ec"``).
        command: how to regenerate it.
    """
    folder, runs = Path(folder), Path(folder) / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    keys = []
    for h in histories:
        key = run_key(h.experiment)
        _write_json(h.to_dict(), runs / f"{key}.json")  # compact: the records are read by code, not by eye
        keys.append(key)
    for stale in runs.glob("*.json"):
        if stale.stem not in keys:
            stale.unlink()
    steps = int(sum(h.records[-1]["step"] for h in histories))
    seconds = sum(r.get("seconds", 0.0) for h in histories for r in h.records)
    manifest = {
        "campaign": name, "registration": registration, "command": command,
        "code_commit": _git(Path(repo), "rev-parse", "--short", "HEAD"),
        "code_dirty": bool(_git(Path(repo), "status", "--porcelain", "--", "resmix")),
        "stored": time.strftime("%Y-%m-%d", time.gmtime()), "runs": len(keys), "keys": sorted(keys),
        "run_steps": steps, "member_seconds": round(seconds, 1),
        "bytes": sum((runs / f"{k}.json").stat().st_size for k in keys),
        "cpu": cpu_model(), "provenance": {k: v for k, v in histories[0].meta.items() if k != "seed"} if histories else {},
    }
    _write_json(manifest, folder / MANIFEST, indent=1)
    return manifest


def load_campaign(folder: str | Path) -> tuple[dict[str, Any], list[History]]:
    """The manifest and the runs of a stored campaign, each file checked; :class:`CampaignError` if any is
    missing, extra or unusable (the store sets a damaged file aside and names it in its warning)."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        keys = set(manifest["keys"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CampaignError(f"{folder / MANIFEST}: not a campaign's manifest ({type(e).__name__}: {e}); "
                            "regenerate it with the command in the campaign's page") from None
    histories = load_results(folder / "runs")
    found = {run_key(h.experiment) for h in histories}
    if found != keys:
        raise CampaignError(f"{folder}: the stored runs are not the manifest's: missing {sorted(keys - found)[:5]}, "
                            f"extra {sorted(found - keys)[:5]}")
    return manifest, histories


@dataclass(frozen=True)
class Rederived:
    """A stored run's first ``epochs`` trained again and compared with its stored records (:func:`rederive`)."""

    key: str
    epochs: int
    same_machine: bool  # the same device, torch and CPU matmul path as the stored run's provenance
    exact: bool  # every compared value equal, bit for bit
    max_rel_diff: float  # the largest |new - stored| / max(|stored|, 1e-12) over the compared values
    close: bool  # every value within CROSS_MACHINE_ATOL + CROSS_MACHINE_RTOL |stored|
    holds: bool  # exact on the same machine, close elsewhere


def _machine(meta: dict[str, Any]) -> tuple:
    path = str(meta.get("cpu_matmul", "")).split(" (")[0]  # "mkl AVX-512 path", without the shim's state
    code = str(meta.get("cpu_matmul", "")).split("mkl_serv_cpu_detect ")[-1].split(";")[0]
    return meta.get("device"), meta.get("torch"), path, code


def rederive(h: History, epochs: int = 2, stored_cpu: str | None = None) -> Rederived:
    """Train ``h``'s run for its first ``epochs`` epochs (a run of that length has the same first records:
    no schedule depends on the total) and compare its records with ``h``'s: exactly when this machine has
    the stored run's device, torch and matmul path and (when ``stored_cpu``, the manifest's ``cpu``, is
    given) its CPU, else to the cross-machine tolerance."""
    from resmix.training.single import train
    if not 1 <= epochs <= len(h.records):
        raise ValueError(f"epochs must be between 1 and the run's {len(h.records)} stored epochs; got {epochs}")
    import torch
    threads = h.meta.get("threads")
    exp = replace(h.experiment, train=replace(h.experiment.train, epochs=epochs,
                                              threads=threads if isinstance(threads, int) else h.experiment.train.threads))
    new = train(exp, progress=False)
    here = new.meta.get("device", "cpu")  # the device the re-derivation really ran on
    same = _machine(provenance(torch.device(here))) == _machine(h.meta) and (stored_cpu is None or stored_cpu == cpu_model())
    return compare(h, new.records, same)


def compare(h: History, records: Sequence[dict[str, Any]], same_machine: bool) -> Rederived:
    """``records`` (a prefix trained again) against ``h``'s stored records: :class:`Rederived`."""
    failed = Rederived(run_key(h.experiment), len(records), same_machine, False, math.inf, False, False)
    if not records or len(records) > len(h.records):
        return failed  # nothing re-derived, or more epochs than were stored: nothing holds
    worst, exact, close = 0.0, True, True
    for a, b in zip(records, h.records[:len(records)]):
        if set(a) != set(b):
            return failed
        for k in a:
            if k in _NOT_COMPARED or a[k] == b[k]:
                continue
            if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (a[k], b[k])):
                return failed  # a non-number, or a NaN or infinity that is not the same on both sides
            exact = False
            worst = max(worst, abs(a[k] - b[k]) / max(abs(b[k]), 1e-12))
            close = close and abs(a[k] - b[k]) <= CROSS_MACHINE_ATOL + CROSS_MACHINE_RTOL * abs(b[k])
    return Rederived(run_key(h.experiment), len(records), same_machine, exact, worst, close,
                     exact if same_machine else close)
