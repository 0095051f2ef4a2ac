"""Grids of runs as Ray Core tasks: one task per cohort, on one machine or a cluster.

``study.run_grid(exps, results, backend="ray")`` comes here (``pip install resmix[ray]``).
Each cohort (:mod:`resmix.plan`) is a task with its own CPU and GPU request (``num_gpus=0.25``
lets four cohorts share one GPU); Ray places them on whichever node has the resources. The results
folder stays the ledger, exactly as with local processes: a run whose ``<key>.json`` is stored is
loaded and never submitted; a task whose worker dies is retried (``max_retries``) and resumes
every member from its checkpoint ``results/ckpt/<key>.pt``. Every node must see the same
``results`` folder (a shared file system), as with ``--point`` arrays.

Ray is imported only here, so ``import resmix`` works without it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence

from .config import Experiment
from .history import History, NonFiniteLossError
from .runner import run_cohort

RunFn = Callable[[Sequence[Experiment], str], list[History]]


def _import_ray():
    try:
        import ray
    except ImportError as e:
        raise ImportError("the Ray backend needs Ray: pip install 'resmix[ray]'") from e
    return ray


def _task(run: RunFn, exps: Sequence[Experiment], results: str, threads: int) -> list[dict[str, Any]] | str:
    """One cohort on a Ray worker: its members' Histories as dicts, or a diverged run's message."""
    import torch
    torch.set_num_threads(threads)  # as many threads as CPUs reserved for this task
    try:
        return [h.to_dict() for h in run(exps, results)]
    except NonFiniteLossError as e:  # a run's failure, not the worker's: no retry, the others are stored
        return str(e)


def connect(address: str | None = None):
    """Attach to the Ray cluster at ``address`` (``"HOST:PORT"``), or let Ray find one.

    With no address Ray looks up ``RAY_ADDRESS``, then a cluster started on this machine,
    and otherwise starts a private one for this process. Returns the ``ray`` module.
    """
    ray = _import_ray()
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    return ray


def run_grid_ray(cohorts: Sequence[Sequence[Experiment]], results: str | os.PathLike, *, address: str | None = None,
                 num_cpus: float = 1, num_gpus: float | None = None, max_retries: int = 3,
                 run: RunFn | None = None,
                 on_done: Callable[[int, list[History] | None, Exception | None], None] | None = None,
                 ) -> list[list[History] | NonFiniteLossError]:
    """Run each cohort as a Ray task; return each cohort's Histories (or its NonFiniteLossError) in order.

    :func:`resmix.study.run_grid` submits only the runs not yet stored, grouped into cohorts.

    Args:
        cohorts: lists of runs sharing :func:`resmix.cohort.cohort_key`.
        results: the results folder, seen by every node.
        address: ``"HOST:PORT"`` of a running cluster; ``None``: Ray's own lookup.
        num_cpus: CPUs reserved per cohort; the cohort itself uses its runs' ``train.threads`` threads
            (part of their keys, so a grid gives the same numbers on any backend): reserve at least that many.
        num_gpus: GPUs per cohort, fractions allowed; ``None``: 1 where the cluster has GPUs, else 0.
        max_retries: how often a task whose worker died is started again (it resumes from the checkpoints).
        run: what a task calls, ``run(exps, results) -> [History]``; default
            :func:`resmix.runner.run_cohort` (tests pass one that fails on purpose).
        on_done: ``on_done(i, histories, error)`` as each cohort finishes (the progress line).
    """
    results = Path(results).resolve()
    ray = connect(address)
    if num_gpus is None:
        num_gpus = 1 if ray.cluster_resources().get("GPU", 0) > 0 else 0
    remote = ray.remote(_task).options(num_cpus=num_cpus, num_gpus=num_gpus, max_retries=max_retries,
                                       retry_exceptions=False)
    threads = max(1, int(num_cpus))
    out: list[list[History] | NonFiniteLossError | None] = [None] * len(cohorts)
    pending = {remote.remote(run or run_cohort, list(c), str(results), threads): i for i, c in enumerate(cohorts)}
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            i = pending.pop(ref)
            value = ray.get(ref)
            out[i] = NonFiniteLossError(value) if isinstance(value, str) else [History.from_dict(d) for d in value]
            if on_done:
                failed = isinstance(out[i], NonFiniteLossError)
                on_done(i, None if failed else out[i], out[i] if failed else None)
    return out
