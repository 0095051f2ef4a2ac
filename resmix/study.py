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
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable, Sequence


from ._io import atomic_path
from .config import Experiment, get_profile
from .train import History, train


def _set(exp: Experiment, path: str, value: Any) -> Experiment:
    section, _, key = path.partition(".")
    if not key:
        return replace(exp, **{section: value})
    if not hasattr(exp, section) or not hasattr(getattr(exp, section), key):
        raise ValueError(f"unknown setting {path!r}; expected section.field such as 'loss.eps'")
    return replace(exp, **{section: replace(getattr(exp, section), **{key: value})})


def grid(base: Experiment, axes: dict[str, Sequence[Any]], seeds: Sequence[int] = (0,)) -> list[Experiment]:
    """Every combination of ``axes`` (dotted paths to values) times ``seeds``.

    Each experiment is named by the settings it changes, e.g. ``loss.eps=1.0|train.seed=2``.
    """
    out = []
    names = list(axes)
    for values in itertools.product(*(axes[n] for n in names), seeds):
        exp = base
        for n, v in zip(names + ["train.seed"], values):
            exp = _set(exp, n, v)
        label = "|".join(f"{n}={v}" for n, v in zip(names + ["train.seed"], values))
        out.append(replace(exp, name=label))
    return out


def run_key(exp: Experiment) -> str:
    """A stable hash of the whole experiment: the file name of its result."""
    return hashlib.sha1(json.dumps(exp.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


def _write_json(obj: dict, path: Path) -> None:
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(obj, f, indent=1)


def run_one(exp: Experiment, results: str | os.PathLike, threads: int | None = None) -> History:
    """Run ``exp`` unless its result is stored; return the stored or new :class:`History`.

    A run interrupted midway resumes from its checkpoint in ``results/ckpt/``.
    """
    results = Path(results)
    path = results / f"{run_key(exp)}.json"
    if path.exists():
        return History.from_dict(json.loads(path.read_text()))
    if threads:
        import torch
        torch.set_num_threads(threads)
    ckpt = results / "ckpt" / f"{run_key(exp)}.pt"
    history = train(exp, checkpoint=ckpt, progress=False)
    _save_model(history.model, results / f"{run_key(exp)}.model.pt")
    _write_json(history.to_dict(), path)
    ckpt.unlink(missing_ok=True)
    return history


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
        raise FileNotFoundError(f"no stored model for {exp.name!r} in {results}; run it with run_one first")
    model = TwoStageModel(exp.model)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
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
            futures = {pool.submit(run_one, exps[i], results, 1): i for i in todo}
            for f in as_completed(futures):
                done(futures[f], f.result())
    if bar is not None:
        bar.close()
    return [out[i] for i in range(len(exps))]


def _progress(total: int, stored: int):
    """One tqdm line (terminal or notebook): ``runs 5/12 [elapsed<left, stored=3]``.

    The stored runs count as done from the start, so the time left is estimated from
    the runs trained in this call only.
    """
    from tqdm.auto import tqdm
    return tqdm(total=total, initial=stored, desc="runs", unit="run", postfix={"stored": stored},
                dynamic_ncols=True)


def load_results(results: str | os.PathLike) -> list[History]:
    """Every stored :class:`History` in a results folder."""
    return [History.from_dict(json.loads(p.read_text())) for p in sorted(Path(results).glob("*.json"))]


def setting(h: History, path: str) -> Any:
    """A setting of the run that made ``h``, by dotted path (``"loss.eps"``)."""
    section, _, key = path.partition(".")
    return h.experiment[section][key] if key else h.experiment[section]


def summarise(histories: Sequence[History], by: Sequence[str], metrics: Sequence[str], epoch: int = -1):
    """A pandas table: one row per setting of ``by``, mean and std over seeds of each metric.

    ``metrics`` are record keys (``"val_rms_ratio_db"``); ``epoch`` picks the record
    (default the last). Columns: the ``by`` settings, ``n_seeds``, then
    ``<metric>_mean`` and ``<metric>_std``.
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


def _parse_value(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m resmix.study",
                                 description="Run a grid of resmix experiments, resumably; results as JSON.")
    ap.add_argument("--profile", choices=["quick", "full"], help="default: RESMIX_PROFILE, else full on CUDA")
    ap.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                    help="fix a setting for every run, e.g. model.residual=none")
    ap.add_argument("--grid", action="append", default=[], metavar="PATH=V1,V2",
                    help="an axis of the grid, e.g. loss.reconstruction=0,0.01,0.1")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--results", default="results", help="folder of JSON results (created)")
    ap.add_argument("--workers", type=int, default=1, help="processes running at once")
    ap.add_argument("--point", type=int, help="run only grid point K (0-based), for one process or machine per point")
    ap.add_argument("--backend", choices=["local", "ray"], default="local",
                    help="local: this machine's processes (--workers); ray: one Ray task per run")
    ap.add_argument("--address", metavar="HOST:PORT", help="Ray cluster to attach to (default: Ray's own lookup)")
    ap.add_argument("--cpus-per-run", type=float, default=1, help="Ray: CPUs reserved per run")
    ap.add_argument("--gpus-per-run", type=float, help="Ray: GPUs per run, e.g. 0.25 (default: 1 if the cluster has GPUs)")
    ap.add_argument("--list", action="store_true", help="list the grid points and exit")
    args = ap.parse_args(argv)
    base = get_profile(args.profile)
    for s in args.set:
        path, _, value = s.partition("=")
        base = _set(base, path, _parse_value(value))
    axes = {}
    for g in args.grid:
        path, _, values = g.partition("=")
        axes[path] = [_parse_value(v) for v in values.split(",")]
    exps = grid(base, axes, args.seeds)
    if args.list:
        for i, e in enumerate(exps):
            print(f"{i}\t{run_key(e)}\t{e.name}")
        return
    if args.point is not None:
        if not 0 <= args.point < len(exps):
            raise SystemExit(f"--point must lie in 0..{len(exps) - 1}")
        exps = [exps[args.point]]
    ray_options = {"num_cpus": args.cpus_per_run, "num_gpus": args.gpus_per_run} if args.backend == "ray" else None
    hs = run_grid(exps, args.results, workers=args.workers, backend=args.backend, address=args.address,
                  ray_options=ray_options)
    for h in hs:
        r = h.last
        print(f"{h.experiment['name']}: rms ratio {r['val_rms_ratio_db']:+.1f} dB, "
              f"corr target {r['val_corr_target']:+.3f}, corr input {r['val_corr_input']:+.3f}")


if __name__ == "__main__":
    main()
