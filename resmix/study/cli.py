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
from typing import Any, Sequence

from resmix._version import __version__

REPOSITORY = "https://github.com/resmix/resmix"  # used only when the installed metadata names none
BENCH = Path("benchmarks") / "bench_train.py"


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="resmix", description="resmix: the study's grid runner, diagnostics "
                                 "and benchmark. Each command has its own --help.")
    ap.add_argument("--version", action="version", version=f"resmix {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="{study,diagnose,bench}")
    sub.add_parser("study", add_help=False, help="run a grid of experiments, resumably (python -m resmix.study)")
    d = sub.add_parser("diagnose", help="load a stored run's model (by key) or a checkpoint and print "
                       "resmix.measure.diagnostics.diagnose's measurements on the run's held-out pairs")
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
        study_main(argv[1:])
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


    from .runner import load_model
    from .store import read_result

    path = Path(run)
    if path.suffix == ".pt" and path.parent.name == "ckpt" and path.is_file():
        from resmix.training.checkpoint import read_model
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
    """:func:`resmix.measure.diagnostics.diagnose` of a stored run on its own held-out pairs: ``(Experiment, Diagnosis)``."""
    from resmix.data.framing import frame
    from resmix.data.sources import held_out
    from resmix.measure.diagnostics import diagnose

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
    for base in (Path(__file__).resolve().parents[2], Path.cwd()):
        if (base / BENCH).is_file():
            return base / BENCH
    return None


def bench(argv: Sequence[str]) -> int:
    path = find_bench()
    if path is None:
        print(f"resmix bench: {BENCH} is not part of the installed package; it lives in the repository:\n"
              f"  git clone {_repository()} resmix && cd resmix && python {BENCH} --help", file=sys.stderr)
        return 2
    from resmix._mkl import matmul_path
    print(f"resmix bench: matmuls on the CPU run {matmul_path()}")
    saved = sys.argv
    sys.argv = [str(path), *argv]
    try:
        runpy.run_path(str(path), run_name="__main__")
    except SystemExit as e:  # argparse's --help and usage errors
        return e.code if isinstance(e.code, int) else 0 if e.code is None else 1
    finally:
        sys.argv = saved
    return 0


def _parse_value(text: str, kind: Any = None) -> Any:
    """A command-line value: int, float, true/false, else the text (always the text for a ``str`` setting)."""
    if kind is str:
        return text
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def _count(kind: type, low: float, what: str):
    """An argparse type: a number of ``kind`` that is at least ``low``."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not value >= low:  # NaN fails too
            raise argparse.ArgumentTypeError(f"expected {what} >= {low:g}; got {text!r}")
        return value
    return parse


# What main() shows as one line (``error: ...``) rather than a traceback: each names its fix.
def _user_errors() -> tuple[type[BaseException], ...]:
    from resmix._io import DiskFullError
    from resmix.config import DeviceUnavailableError
    from resmix.training.history import NonFiniteLossError

    from .ray_backend import ClusterError
    from .store import StoreError
    return StoreError, DiskFullError, DeviceUnavailableError, ClusterError, NonFiniteLossError


def study_main(argv: Sequence[str] | None = None) -> None:
    """``resmix study`` (``python -m resmix.study``): run a grid of experiments, resumably; results as JSON."""
    from resmix.config import get_profile

    from .grids import _set, _setting_type, grid, run_grid
    from .keys import run_key
    ap = argparse.ArgumentParser(prog="python -m resmix.study",
                                 description="Run a grid of resmix experiments, resumably; results as JSON.")
    ap.add_argument("--profile", choices=["quick", "full"], help="default: RESMIX_PROFILE, else full on CUDA")
    ap.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                    help="fix a setting for every run, e.g. model.residual=none")
    ap.add_argument("--grid", action="append", default=[], metavar="PATH=V1,V2",
                    help="an axis of the grid, e.g. loss.reconstruction=0,0.01,0.1 (each axis once)")
    ap.add_argument("--seeds", type=int, nargs="+",
                    help="model seeds, the grid's last axis (default: 0 1 2, or the one of --set train.seed)")
    ap.add_argument("--results", default="results", help="folder of JSON results (created)")
    ap.add_argument("--workers", type=_count(int, 1, "an integer"), default=1, help="processes running at once")
    ap.add_argument("--point", type=int, help="run only grid point K (0-based), for one process or machine per point")
    ap.add_argument("--backend", choices=["local", "ray"], default="local",
                    help="local: this machine's processes (--workers); ray: one Ray task per run")
    ap.add_argument("--address", metavar="HOST:PORT", help="Ray cluster to attach to (default: Ray's own lookup)")
    ap.add_argument("--cpus-per-run", type=_count(float, 0, "a number"), help="Ray: CPUs reserved per run (default 1)")
    ap.add_argument("--gpus-per-run", type=_count(float, 0, "a number"),
                    help="Ray: GPUs per run, e.g. 0.25 (default: 1 if the cluster has GPUs)")
    ap.add_argument("--list", action="store_true", help="list the grid points and exit")
    args = ap.parse_args(argv)
    if args.backend != "ray":
        given = [o for o, v in (("--address", args.address), ("--cpus-per-run", args.cpus_per_run),
                                ("--gpus-per-run", args.gpus_per_run)) if v is not None]
        if given:
            ap.error(f"{', '.join(given)} apply to --backend ray; got --backend {args.backend}")
    base = get_profile(args.profile)
    fixed: dict[str, str] = {}
    for s in args.set:
        path, eq, value = s.partition("=")
        try:
            if not eq:
                raise ValueError("expected PATH=VALUE, e.g. model.residual=none")
            if path in fixed:
                raise ValueError(f"{path} is already set by --set {path}={fixed[path]}; set it once")
            base = _set(base, path, _parse_value(value, _setting_type(base, path)))
            fixed[path] = value
        except (TypeError, ValueError) as e:  # the configs name the field and what it takes
            ap.error(f"--set {s}: {e}")
    seeds = args.seeds
    if "train.seed" in fixed:  # one model seed, said twice, would be overwritten by --seeds without a word
        if seeds is not None:
            ap.error(f"--set train.seed={fixed['train.seed']} and --seeds {' '.join(map(str, seeds))} both set the "
                     "model seed; use one (--seeds takes several)")
        seeds = [base.train.seed]
    seeds = [0, 1, 2] if seeds is None else seeds
    for seed in seeds:
        try:
            _set(base, "train.seed", seed)
        except (TypeError, ValueError) as e:
            ap.error(f"--seeds {seed}: {e}")
    axes = {}
    for g in args.grid:
        path, eq, values = g.partition("=")
        if not eq or not values:
            ap.error(f"--grid {g}: expected PATH=V1,V2, e.g. loss.reconstruction=0,0.01")
        if path in axes:
            ap.error(f"--grid {path} is given twice; give each axis once with all its values (PATH=V1,V2,V3)")
        if path in fixed:
            ap.error(f"--grid {g}: {path} is fixed by --set {path}={fixed[path]}; use one of them")
        if path == "train.seed":
            ap.error(f"--grid {g}: the model seeds are the grid's own axis; use --seeds {' '.join(values.split(','))}")
        axes[path] = [_parse_value(v, _setting_type(base, path)) for v in values.split(",")]
    try:
        exps = grid(base, axes, seeds)
    except (TypeError, ValueError) as e:
        ap.error(f"--grid: {e}")
    if args.list:
        for i, e in enumerate(exps):
            print(f"{i}\t{run_key(e)}\t{e.name}")
        return
    if args.point is not None:
        if not 0 <= args.point < len(exps):
            raise SystemExit(f"--point must lie in 0..{len(exps) - 1}")
        exps = [exps[args.point]]
    ray_options = ({"num_cpus": 1 if args.cpus_per_run is None else args.cpus_per_run, "num_gpus": args.gpus_per_run}
                   if args.backend == "ray" else None)
    try:
        hs = run_grid(exps, args.results, workers=args.workers, backend=args.backend, address=args.address,
                      ray_options=ray_options)
    except _user_errors() as e:  # a message that names the fix reads better than a traceback
        raise SystemExit(f"{ap.prog}: error: {e}") from None
    for h in hs:
        r = h.last
        print(f"{h.experiment.name}: rms ratio {r['val_rms_ratio_db']:+.1f} dB, "
              f"corr target {r['val_corr_target']:+.3f}, corr input {r['val_corr_input']:+.3f}")


