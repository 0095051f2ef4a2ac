"""The ``resmix`` command (``python -m resmix``): run a grid, diagnose a stored run, time training.

Usage::

    resmix study --profile quick --grid loss.eps=1e-8,1 --seeds 0 1   # = python -m resmix.study
    resmix diagnose KEY --results results/eps                          # a stored run, by its key
    resmix diagnose results/eps/ckpt/KEY.pt                            # a checkpoint of a run in progress
    resmix bench --profiles quick                                      # benchmarks/bench_train.py

This module is the caller that prints; the library functions it calls return values.
"""
from __future__ import annotations

import argparse
import json
import math
import runpy
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

from ._version import __version__

REPOSITORY = "https://github.com/resmix/resmix"  # used only when the installed metadata names none
BENCH = Path("benchmarks") / "bench_train.py"


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="resmix", description="resmix: the study's grid runner, diagnostics "
                                 "and benchmark. Each command has its own --help.")
    ap.add_argument("--version", action="version", version=f"resmix {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="{study,diagnose,bench}")
    sub.add_parser("study", add_help=False, help="run a grid of experiments, resumably (python -m resmix.study)")
    d = sub.add_parser("diagnose", help="load a stored run's model (by key) or a checkpoint and print "
                       "resmix.diagnostics.diagnose's measurements on the run's held-out pairs")
    d.add_argument("run", help="a run key (with --results), a results/<key>.json or <key>.model.pt file, "
                   "or a checkpoint results/ckpt/<key>.pt")
    d.add_argument("--results", default="results", help="the results folder holding <key>.json (default: results)")
    d.add_argument("--json", action="store_true", help="print the measurements as one JSON object")
    sub.add_parser("bench", add_help=False, help="time training steps: benchmarks/bench_train.py of a checkout")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``resmix`` and ``python -m resmix``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # study and bench keep their own options (and --help): everything after the command goes to them
    if argv and argv[0] == "study":
        from . import study
        study.main(argv[1:])
        return 0
    if argv and argv[0] == "bench":
        return bench(argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "diagnose":
        return diagnose_command(args.run, args.results, as_json=args.json)
    raise AssertionError(f"unhandled command {args.command!r}")


def load_run(run: str, results: str = "results"):
    """The experiment and trained model of a stored run or a checkpoint: ``(Experiment, TwoStageModel)``.

    ``run`` is a key (looked up in ``results``), a path to ``<key>.json`` or ``<key>.model.pt``
    (the other file beside it), or a checkpoint ``ckpt/<key>.pt`` (which holds its experiment).
    """
    import torch

    from .config import Experiment
    from .models import TwoStageModel
    from .store import read_result
    from .study import load_model

    path = Path(run)
    if path.suffix == ".pt" and path.parent.name == "ckpt" and path.is_file():
        from .checkpoint import read_model
        return read_model(path)
    if path.suffix in (".json", ".pt"):
        folder, key = path.parent, path.name.split(".")[0]
    else:
        folder, key = Path(results), run
    stored = read_result(folder / f"{key}.json")
    if stored is None:
        keys = sorted(p.name.split(".")[0] for p in folder.glob("*.model.pt")) if folder.is_dir() else []
        found = f"its stored runs: {', '.join(keys[:5])}{', ...' if len(keys) > 5 else ''}" if keys else "no stored runs there"
        raise FileNotFoundError(f"no stored run {key!r} in {folder} (expected {folder / (key + '.json')}; "
                                f"{found}); `resmix study ... --list` prints a grid's keys")
    return stored.experiment, load_model(stored.experiment, folder)


def diagnose_run(run: str, results: str = "results"):
    """:func:`resmix.diagnostics.diagnose` of a stored run on its own held-out pairs: ``(Experiment, Diagnosis)``."""
    from .data import frame, held_out
    from .diagnostics import diagnose

    exp, model = load_run(run, results)
    x, y = held_out(exp.data)  # [n_val, N] each
    D = exp.data.frame_size
    return exp, diagnose(model, frame(x, D), frame(y, D), sample_rate=exp.data.sample_rate)  # [n_val, D, T]


def _number(v: float) -> float | None:
    return None if isinstance(v, float) and not math.isfinite(v) else v


def diagnose_command(run: str, results: str, as_json: bool = False) -> int:
    try:
        exp, d = diagnose_run(run, results)
    except (FileNotFoundError, ValueError) as e:
        print(f"resmix diagnose: {e}", file=sys.stderr)
        return 1
    if as_json:
        out = {k: v for k, v in asdict(d).items() if k != "report"}
        out |= {"experiment": exp.name, "leaks": d.leaks, "ignores_inputs": d.ignores_inputs}
        print(json.dumps(out, indent=1, default=_number))
        return 0
    print(f"run {exp.name!r}: {exp.data.n_val} held-out pairs, sample rate {exp.data.sample_rate} Hz")
    print(d.report)
    print(f"leaks (zero-weights output is an input/target mix, R^2 > 0.99): {d.leaks}")
    print(f"ignores its inputs (common share > 0.9): {d.ignores_inputs}")
    print(f"residual share (zero-weights output level / output level): {d.residual_share:.3f}")
    for name, value in d.measured.items():
        print(f"  {name:<24} {value:+.4f}")
    return 0


def _repository() -> str:
    try:
        from importlib.metadata import metadata
        for entry in metadata("resmix").get_all("Project-URL") or []:
            label, _, url = entry.partition(",")
            if label.strip().lower() == "repository":
                return url.strip()
    except Exception:  # not installed (a bare checkout on sys.path): fall back to the project's url
        pass
    return REPOSITORY


def find_bench() -> Path | None:
    """``benchmarks/bench_train.py`` of the checkout resmix runs from, or of the current folder."""
    for base in (Path(__file__).resolve().parents[1], Path.cwd()):
        if (base / BENCH).is_file():
            return base / BENCH
    return None


def bench(argv: Sequence[str]) -> int:
    path = find_bench()
    if path is None:
        print(f"resmix bench: {BENCH} is not part of the installed package; it lives in the repository:\n"
              f"  git clone {_repository()} resmix && cd resmix && python {BENCH} --help", file=sys.stderr)
        return 2
    saved = sys.argv
    sys.argv = [str(path), *argv]
    try:
        runpy.run_path(str(path), run_name="__main__")
    except SystemExit as e:  # argparse's --help and usage errors
        return e.code if isinstance(e.code, int) else 0 if e.code is None else 1
    finally:
        sys.argv = saved
    return 0
