"""Grids of runs: build, run (resumably, in parallel), store with provenance, tabulate.

Each run is stored as ``<results>/<key>.json`` where ``key`` hashes the run's full
experiment, so a sweep that is interrupted skips what it already stored, and
grid points can run in separate processes or on separate machines::

    python -m resmix.study --profile quick --set model.residual=none \\
        --grid loss.reconstruction=0,0.01 --seeds 0 1 2 --results results/ch5

``--backend ray [--address HOST:PORT]`` runs each point as a Ray task instead
(:mod:`resmix.ray_backend`); ``--point K`` runs one point, for SLURM arrays.
"""
from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence


from ._io import atomic_path, set_aside
from .config import Experiment, field_type, get_profile
from .store import KEYED_ONLY_WHEN_SET, claim, read_result, settings_key, stale_leftovers, writable_folder  # noqa: F401
from .train import History, __version__, train


def _set(exp: Experiment, path: str, value: Any) -> Experiment:
    """``exp`` with the setting at ``path`` (``"loss.eps"``, or a top-level ``"name"``) replaced.

    The configs check the value's type and range, so a wrong value fails here, naming the field.
    """
    section, _, key = path.partition(".")
    names = {f.name for f in fields(exp)}
    if section in names and is_dataclass(getattr(exp, section)):
        if key not in {f.name for f in fields(getattr(exp, section))}:
            known = ", ".join(f"{section}.{f.name}" for f in fields(getattr(exp, section)))
            what = f"{path!r} is a section, not a setting" if not key else f"unknown setting {path!r}"
            raise ValueError(f"{what}; expected one of {known}")
        return replace(exp, **{section: replace(getattr(exp, section), **{key: value})})
    if key or section not in names:
        raise ValueError(f"unknown setting {path!r}; expected section.field such as 'loss.eps'")
    return replace(exp, **{section: value})


def _setting_type(exp: Experiment, path: str) -> Any:
    """The annotated type of the setting at ``path`` (``None`` when there is no such setting)."""
    section, _, key = path.partition(".")
    try:
        return field_type(getattr(exp, section), key) if key else field_type(exp, section)
    except (AttributeError, KeyError, TypeError):
        return None


def grid(base: Experiment, axes: dict[str, Sequence[Any]], seeds: Sequence[int] = (0,)) -> list[Experiment]:
    """Every combination of ``axes`` (dotted paths to values) times ``seeds``.

    Each experiment is named by the settings it changes, e.g. ``loss.eps=1.0|train.seed=2``.
    Raises ValueError for an axis ``train.seed`` (the seeds are the grid's own last axis) and for
    points that are the same run (a value or seed given twice: two names, one key).
    """
    if "train.seed" in axes:
        raise ValueError("train.seed is the grid's own axis: pass the model seeds as seeds=[...] (--seeds), not as an axis")
    out = []
    names = list(axes)
    for values in itertools.product(*(axes[n] for n in names), seeds):
        exp = base
        for n, v in zip(names + ["train.seed"], values):
            exp = _set(exp, n, v)
        label = "|".join(f"{n}={v}" for n, v in zip(names + ["train.seed"], values))
        out.append(replace(exp, name=label))
    seen: dict[Experiment, str] = {}
    for exp in out:
        settings = replace(exp, name="")  # 1 == 1.0: equal settings, one computation
        if settings in seen:
            raise ValueError(f"the grid's points {seen[settings]!r} and {exp.name!r} are the same run; "
                             "give each value once")
        seen[settings] = exp.name
    return out


def run_key(exp: Experiment) -> str:
    """A stable hash of what makes a run's numbers: the file name of its result.

    It covers every setting and the package version, and not the display name: two grids
    that reach the same settings share one run, and a new release of ``resmix`` trains afresh.
    Settings added after 0.2.0 stay out of it at their defaults (``store.KEYED_ONLY_WHEN_SET``).
    """
    return settings_key(exp.to_dict(), __version__)


def _write_json(obj: dict, path: Path) -> None:
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(obj, f, indent=1)


def run_one(exp: Experiment, results: str | os.PathLike, threads: int | None = None) -> History:
    """Run ``exp`` unless its result is stored; return the stored or new :class:`History`.

    The run claims its key with a lock file in ``results/locks/`` first, so two processes
    on one folder (a SLURM array on a shared disk) never train the same run twice: the
    second waits, then loads the first one's result. A run interrupted midway resumes
    from its checkpoint in ``results/ckpt/``. A damaged stored result is set aside as
    ``<name>.damaged`` (with a :class:`~resmix._io.DamagedFileWarning`) and recomputed;
    a stored result whose weights file is missing is retrained to rebuild the weights.

    ``threads`` is kept for older callers: the run uses ``exp.train.threads``, which is
    part of its key, so the same key gives the same numbers in any process.
    """
    if threads is not None and threads != exp.train.threads:
        warnings.warn(f"run_one(threads={threads}) is ignored: the run uses its own train.threads="
                      f"{exp.train.threads}, which is part of its key", stacklevel=2)
    results, key = Path(results), run_key(exp)
    path, weights = results / f"{key}.json", results / f"{key}.model.pt"
    stored = read_result(path)
    if stored is not None and weights.exists() and not stale_leftovers(results, key):
        return stored
    writable_folder(results)
    with claim(results, key):
        stored = read_result(path)  # another process may have stored it while this one waited
        for p in stale_leftovers(results, key):
            p.unlink(missing_ok=True)
        if stored is not None and weights.exists():
            return stored
        if stored is not None:
            warnings.warn(f"{weights} is missing although {path.name} is stored; retraining the run "
                          "to rebuild its weights", stacklevel=2)
        ckpt = results / "ckpt" / f"{key}.pt"
        history = train(exp, checkpoint=ckpt, progress=False)
        _save_model(history.model, weights)
        if stored is None:
            _write_json(history.to_dict(), path)
        elif _numbers(stored) != _numbers(history):
            warnings.warn(f"{weights}: the rebuilt weights come from a rerun whose records differ from "
                          f"the stored {path.name} (another device or library?); the stored records are kept",
                          stacklevel=2)
        ckpt.unlink(missing_ok=True)
    if stored is not None:
        stored.model = history.model
        return stored
    return history


def _numbers(h: History) -> list[dict[str, float]]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in h.records]


def _save_model(model, path: Path) -> None:
    import torch
    with atomic_path(path) as tmp:
        torch.save({k: v.cpu() for k, v in model.state_dict().items()}, tmp)


def load_model(exp: Experiment, results: str | os.PathLike):
    """The trained :class:`~resmix.models.TwoStageModel` of a stored run (CPU, eval mode)."""
    import torch
    from .models import TwoStageModel
    path = Path(results) / f"{run_key(exp)}.model.pt"
    if not path.exists():
        if (Path(results) / f"{run_key(exp)}.json").exists():
            raise FileNotFoundError(f"{path} is missing although the result of {exp.name!r} is stored; "
                                    "run_one(exp, results) retrains the run to rebuild its weights")
        raise FileNotFoundError(f"no stored model for {exp.name!r} in {results}; run it with run_one first")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch.load fails in many ways on a damaged file
        set_aside(path, f"unreadable weights ({type(e).__name__}: {e})")
        raise ValueError(f"{path} was unreadable ({type(e).__name__}) and is set aside; "
                         "run_one(exp, results) retrains the run to rebuild its weights") from None
    model = TwoStageModel(exp.model)
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError, KeyError) as e:  # another run's weights, wrong shapes
        why = str(e).strip().splitlines()[0][:300]
        set_aside(path, f"weights that do not fit the model of its settings ({type(e).__name__}: {why})")
        raise ValueError(f"{path} does not fit the model of {exp.name!r} and is set aside; "
                         "run_one(exp, results) retrains the run to rebuild its weights") from None
    return model.eval()


def run_grid(exps: Iterable[Experiment], results: str | os.PathLike, workers: int = 1,
             progress: bool = True, backend: str = "local", address: str | None = None,
             ray_options: dict[str, Any] | None = None) -> list[History]:
    """Run every experiment (stored ones are loaded, not rerun) and return their Histories in order.

    Args:
        backend: ``"local"`` (default): this machine's processes, ``workers`` at a time;
            with ``workers > 1`` each process uses one thread (small models run faster side
            by side than one at a time on two threads). ``"ray"``: one Ray task per run
            (``pip install resmix[ray]``), see :func:`resmix.ray_backend.run_grid_ray`.
        address: the Ray cluster, ``"HOST:PORT"``; ``None``: Ray's own lookup.
        ray_options: ``num_cpus``, ``num_gpus`` (per run, fractions share a GPU), ``max_retries``.
        progress: one line for the grid: runs done of all, how many were already stored,
            and the time left.
    """
    if backend not in ("local", "ray"):
        raise ValueError(f"backend must be 'local' or 'ray'; got {backend!r}")
    exps = list(exps)
    stored = [i for i, e in enumerate(exps) if (Path(results) / f"{run_key(e)}.json").exists()]
    out: dict[int, History] = {i: run_one(exps[i], results) for i in stored}  # loads, never trains
    todo = [i for i in range(len(exps)) if i not in out]
    bar = _progress(len(exps), len(stored)) if progress else None

    def done(i: int, h: History | None = None) -> None:
        if h is not None:
            out[i] = h
        if bar is not None:
            bar.update()

    if backend == "ray" and todo:  # all stored: nothing to submit, no cluster needed
        from .ray_backend import run_grid_ray
        hs = run_grid_ray([exps[i] for i in todo], results, address=address,
                          on_done=lambda j: done(todo[j]), **(ray_options or {}))
        out.update(zip(todo, hs))
    elif backend == "local" and workers <= 1:
        for i in todo:
            done(i, run_one(exps[i], results))
    elif backend == "local" and todo:
        import multiprocessing as mp
        from concurrent.futures import as_completed
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
            futures = {pool.submit(run_one, exps[i], results): i for i in todo}
            for f in as_completed(futures):
                done(futures[f], f.result())
    if bar is not None:
        bar.close()
    return [out[i] for i in range(len(exps))]


def run_groups(groups: Mapping[Any, Sequence[Experiment]], results: str | os.PathLike, **kwargs: Any) -> dict[Any, list[History]]:
    """:func:`run_grid` over every group's experiments at once, returned as ``{group: histories}`` in order.

    One grid keeps every worker busy to the end; ``kwargs`` go to :func:`run_grid`.
    """
    flat = run_grid([e for es in groups.values() for e in es], results, **kwargs)
    out, i = {}, 0
    for key, es in groups.items():
        out[key], i = flat[i:i + len(es)], i + len(es)
    return out


def _progress(total: int, stored: int):
    """One tqdm line (terminal or notebook): ``runs 5/12 [elapsed<left, stored=3]``.

    The stored runs count as done from the start, so the time left is estimated from
    the runs trained in this call only.
    """
    from tqdm.auto import tqdm
    return tqdm(total=total, initial=stored, desc="runs", unit="run", postfix={"stored": stored},
                dynamic_ncols=True)


def load_results(results: str | os.PathLike) -> list[History]:
    """Every stored :class:`History` in a results folder.

    A result that cannot be served (unreadable bytes or JSON, the wrong content, stored under
    another run's key: :func:`resmix.store.read_result`) is set aside as ``<name>.damaged`` with a
    :class:`~resmix._io.DamagedFileWarning` and left out (:func:`run_one` recomputes it); a stray
    JSON not named like a key is skipped with a warning and left untouched, whatever it holds.
    """
    results = Path(results)
    if not results.is_dir():
        raise FileNotFoundError(f"results folder {results} does not exist (or is not a directory)")
    return [h for p in sorted(results.glob("*.json")) if (h := read_result(p, foreign="skip")) is not None]


def setting(h: History, path: str) -> Any:
    """A setting of the run that made ``h``, by dotted path (``"loss.eps"``)."""
    section, _, key = path.partition(".")
    return getattr(getattr(h.experiment, section), key) if key else getattr(h.experiment, section)


def group(histories: Iterable[History], by: str | Sequence[str]) -> dict[Any, list[History]]:
    """Runs grouped by one setting (keys are its values) or several (keys are tuples), in first-seen order."""
    paths = [by] if isinstance(by, str) else list(by)
    out: dict[Any, list[History]] = {}
    for h in histories:
        values = tuple(setting(h, p) for p in paths)
        out.setdefault(values[0] if isinstance(by, str) else values, []).append(h)
    return out


def summarise(histories: Sequence[History], by: Sequence[str], metrics: Sequence[str], epoch: int = -1):
    """A pandas table: one row per setting of ``by``, mean and std over seeds of each metric.

    ``metrics`` are record keys (``"val_rms_ratio_db"``); ``epoch`` picks the record by
    position (default the last; ``0`` the first epoch). Columns: the ``by`` settings,
    ``n_seeds``, then ``<metric>_mean`` and ``<metric>_std``.
    """
    import pandas as pd
    rows = [{**{b: setting(h, b) for b in by}, "seed": setting(h, "train.seed"),
             **{m: h.records[epoch][m] for m in metrics}} for h in histories]
    df = pd.DataFrame(rows)
    g = df.groupby(list(by), sort=False)
    table = g[list(metrics)].agg(["mean", "std"])
    table.columns = [f"{m}_{s}" for m, s in table.columns]
    table.insert(0, "n_seeds", g.size())
    return table.reset_index()


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
    from ._io import DiskFullError
    from .config import DeviceUnavailableError
    from .ray_backend import ClusterError
    from .store import StoreError
    from .train import NonFiniteLossError
    return StoreError, DiskFullError, DeviceUnavailableError, ClusterError, NonFiniteLossError


def main(argv: Sequence[str] | None = None) -> None:
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


if __name__ == "__main__":
    main()
