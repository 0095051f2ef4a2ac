"""Grids of runs as Ray Core tasks: one task per run, on one machine or a cluster.

``study.run_grid(exps, results, backend="ray")`` comes here (``pip install resmix[ray]``).
Each run is a task with its own CPU and GPU request (``num_gpus=0.25`` lets four small
runs share one GPU); Ray places them on whichever node has the resources. The results
folder stays the ledger, exactly as with local processes: a run whose ``<key>.json`` is
stored is loaded and never submitted; a task whose worker dies is retried (``max_retries``)
and resumes from its checkpoint ``results/ckpt/<key>.pt``. Every node must see the same
``results`` folder (a shared file system), as with ``--point`` arrays.

Ray is imported only here, so ``import resmix`` works without it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence

from .config import Experiment
from .train import History

RunFn = Callable[[Experiment, str], History]


class ClusterError(ConnectionError):
    """The Ray cluster cannot be used: nothing listens at the address, its authentication refuses this
    driver, or no node has the resources a run asks for. The message names the fix."""


def _import_ray():
    try:
        import ray
    except ImportError as e:
        raise ImportError("the Ray backend needs Ray: pip install 'resmix[ray]'") from e
    return ray


def _task(run: RunFn, exp: Experiment, results: str, threads: int) -> dict[str, Any]:
    import torch
    torch.set_num_threads(threads)  # as many threads as CPUs reserved for this task
    return run(exp, results).to_dict()


def connect(address: str | None = None):
    """Attach to the Ray cluster at ``address`` (``"HOST:PORT"``), or let Ray find one.

    With no address Ray looks up ``RAY_ADDRESS``, then a cluster started on this machine,
    and otherwise starts a private one for this process. Returns the ``ray`` module.
    """
    ray = _import_ray()
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    return ray


def run_grid_ray(exps: Sequence[Experiment], results: str | os.PathLike, *, address: str | None = None,
                 num_cpus: float = 1, num_gpus: float | None = None, max_retries: int = 3,
                 run: RunFn | None = None, on_done: Callable[[int], None] | None = None) -> list[History]:
    """Run each experiment as a Ray task; return their Histories in order.

    :func:`resmix.study.run_grid` submits only the runs not yet stored (a stored run
    reaching a task would be loaded there, not trained again).

    Args:
        exps: the runs.
        results: the results folder, seen by every node.
        address: ``"HOST:PORT"`` of a running cluster; ``None``: Ray's own lookup.
        num_cpus: CPUs reserved per run; the run itself uses ``exp.train.threads`` threads (part of
            its key, so a grid gives the same numbers on any backend): reserve at least that many.
        num_gpus: GPUs per run, fractions allowed; ``None``: 1 where the cluster has GPUs, else 0.
        max_retries: how often a task whose worker died is started again (it resumes
            from its checkpoint).
        run: what a task calls, ``run(exp, results) -> History``; default
            :func:`resmix.study.run_one` (tests pass one that fails on purpose).
        on_done: called with the index of each run as it finishes (the progress line).
    """
    from .study import run_one
    results = Path(results).resolve()
    ray = connect(address)
    if num_gpus is None:
        num_gpus = 1 if ray.cluster_resources().get("GPU", 0) > 0 else 0
    remote = ray.remote(_task).options(num_cpus=num_cpus, num_gpus=num_gpus, max_retries=max_retries,
                                       retry_exceptions=False)
    threads = max(1, int(num_cpus))
    out: list[History | None] = [None] * len(exps)
    pending = {}
    for i, exp in enumerate(exps):
        pending[remote.remote(run or run_one, exp, str(results), threads)] = i
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            i = pending.pop(ref)
            out[i] = History.from_dict(ray.get(ref))
            if on_done:
                on_done(i)
    return out
