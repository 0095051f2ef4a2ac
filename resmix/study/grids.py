"""Grids of runs: build, run (resumably, in parallel), store with provenance, tabulate.

Each run is stored as ``<results>/<key>.json`` where ``key`` hashes the run's full
experiment, so a sweep that is interrupted skips what it already stored, and
grid points can run in separate processes or on separate machines::

    python -m resmix.study --profile quick --set model.residual=none \\
        --grid loss.reconstruction=0,0.01 --seeds 0 1 2 --results results/ch5

Runs of the same shapes train together as cohorts (:mod:`resmix.training.cohort`, planned by
:mod:`resmix.study.schedule`; claimed, trained and stored by :mod:`resmix.study.runner`).
``--backend ray [--address HOST:PORT]`` runs each cohort as a Ray task instead
(:mod:`resmix.study.ray_backend`); ``--point K`` runs one point, for SLURM arrays.
"""
from __future__ import annotations

import itertools
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from resmix.config import Experiment, field_type
from resmix.training.history import History, NonFiniteLossError

from .keys import run_key
from .runner import run_cohort, run_one
from .schedule import plan_cohorts
from .store import read_result

__all__ = ["grid", "run_grid", "run_groups", "load_results", "setting", "group", "summarise"]


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


def _devices(exps: Sequence[Experiment]) -> list[str | None]:
    """What each local worker process runs on: one process per GPU when the runs use CUDA."""
    import torch

    from resmix.config import resolve_device
    if any(resolve_device(e.train.device).type == "cuda" for e in exps):
        return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    return []


def _init_worker(devices) -> None:
    """A worker process takes the next free GPU (its runs' device "auto"/"cuda" then means that GPU)."""
    import torch
    if devices is not None:
        torch.cuda.set_device(devices.get())


def run_grid(exps: Iterable[Experiment], results: str | os.PathLike, workers: int = 1,
             progress: bool = True, backend: str = "local", address: str | None = None,
             ray_options: dict[str, Any] | None = None) -> list[History]:
    """Run every experiment (stored ones are loaded, not rerun) and return their Histories in order.

    The runs not yet stored train in cohorts (:mod:`resmix.training.cohort`): runs of the same shapes as one
    stacked model, grouped by :func:`resmix.study.schedule.plan_cohorts` (a memory cap, at least one cohort
    per worker, longest runs spread first). A member's numbers are those it gets alone.

    Args:
        workers: ``"local"`` backend: processes training cohorts side by side, each on the runs'
            ``train.threads`` threads (small models run faster side by side than one at a time on two
            threads). On CUDA the grid uses one process per GPU, whatever ``workers`` says.
        backend: ``"local"`` (default): this machine's processes. ``"ray"``: one Ray task per cohort
            (``pip install resmix[ray]``), see :func:`resmix.study.ray_backend.run_grid_ray`.
        address: the Ray cluster, ``"HOST:PORT"``; ``None``: Ray's own lookup.
        ray_options: ``num_cpus``, ``num_gpus`` (per cohort, fractions share a GPU), ``max_retries``.
        progress: one line for the grid: runs done of all, how many were already stored,
            and the time left (it moves a cohort at a time).

    Raises:
        NonFiniteLossError: some runs diverged; every other run is stored first.
    """
    if backend not in ("local", "ray"):
        raise ValueError(f"backend must be 'local' or 'ray'; got {backend!r}")
    exps = list(exps)
    stored = [i for i, e in enumerate(exps) if (Path(results) / f"{run_key(e)}.json").exists()]
    out: dict[int, History] = {i: run_one(exps[i], results) for i in stored}  # loads, never trains
    todo = [i for i in range(len(exps)) if i not in out]
    bar = _progress(len(exps), len(stored)) if progress else None
    devices = _devices([exps[i] for i in todo]) if backend == "local" else []
    slots = len(devices) or workers
    plan = [[todo[j] for j in cohort] for cohort in plan_cohorts([exps[i] for i in todo], slots)] if todo else []
    errors: list[NonFiniteLossError] = []

    def done(cohort: list[int], hs: list[History] | None = None, error: Exception | None = None) -> None:
        if error is not None:
            if not isinstance(error, NonFiniteLossError):
                raise error
            errors.append(error)
        out.update(zip(cohort, hs or []))
        if bar is not None:
            bar.update(len(cohort))

    if backend == "ray" and plan:  # all stored: nothing to submit, no cluster needed
        from .ray_backend import run_grid_ray
        run_grid_ray([[exps[i] for i in c] for c in plan], results, address=address,
                     on_done=lambda j, hs, err: done(plan[j], hs, err), **(ray_options or {}))
    elif backend == "local" and slots <= 1:
        for cohort in plan:
            try:
                done(cohort, run_cohort([exps[i] for i in cohort], results))
            except NonFiniteLossError as e:
                done(cohort, error=e)
    elif backend == "local" and plan:
        import multiprocessing as mp
        from concurrent.futures import as_completed
        ctx = mp.get_context("spawn")
        queue = None
        if devices:
            queue = ctx.Manager().Queue()
            for d in devices:
                queue.put(d)
        with ProcessPoolExecutor(slots, mp_context=ctx, initializer=_init_worker, initargs=(queue,)) as pool:
            futures = {pool.submit(run_cohort, [exps[i] for i in c], results): c for c in plan}
            for f in as_completed(futures):
                error = f.exception()
                done(futures[f], None if error else f.result(), error)
    if bar is not None:
        bar.close()
    if errors:
        raise NonFiniteLossError("; ".join(map(str, errors)))
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
    another run's key: ``resmix.study.store.read_result``) is set aside as ``<name>.damaged`` with a
    :class:`~resmix._io.DamagedFileWarning` and left out (:func:`~resmix.study.runner.run_one` recomputes it); a stray
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

    from resmix.measure.stats import _record
    rows = [{**{b: setting(h, b) for b in by}, "seed": setting(h, "train.seed"),
             **{m: _record(h, epoch, m) for m in metrics}} for h in histories]
    df = pd.DataFrame(rows)
    g = df.groupby(list(by), sort=False)
    table = g[list(metrics)].agg(["mean", "std"])
    table.columns = [f"{m}_{s}" for m, s in table.columns]
    table.insert(0, "n_seeds", g.size())
    return table.reset_index()
