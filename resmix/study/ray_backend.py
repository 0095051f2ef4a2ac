"""Grids of runs as Ray Core tasks: one task per cohort, on one machine or a cluster.

``study.run_grid(exps, results, backend="ray")`` comes here (``pip install resmix[ray]``).
Each cohort (:mod:`resmix.study.schedule`) is a task with its own CPU and GPU request (``num_gpus=0.25``
lets four cohorts share one GPU); Ray places them on whichever node has the resources. The results
folder stays the ledger, exactly as with local processes: a run whose ``<key>.json`` is stored is
loaded and never submitted; a task whose worker dies is retried (``max_retries``) and resumes
every member from its checkpoint ``results/ckpt/<key>.pt``. Every node must see the same
``results`` folder (a shared file system), as with ``--point`` arrays.

Ray is imported only here, so ``import resmix`` works without it.
"""
from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from typing import Any, Callable, Sequence

from resmix.config import Experiment
from resmix.training.history import History, NonFiniteLossError

from .runner import run_cohort

RunFn = Callable[[Sequence[Experiment], str], list[History]]


class ClusterError(ConnectionError):
    """The Ray cluster cannot be used: nothing listens at the address, its authentication refuses this
    driver, or no node has the resources a run asks for. The message names the fix."""


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


_attached: str | None = None  # the address connect() attached this process to (None: Ray's own lookup)
CONNECT_TIMEOUT_S = 10.0  # how long connect() waits for an address to answer before saying nothing is there


def _host_port(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of a ``"HOST:PORT"`` address; None for Ray's other forms (``auto``, ``ray://...``)."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or "://" in address:
        return None
    return host.strip("[]"), int(port)


def _check_listening(address: str, host: str, port: int) -> None:
    """Refuse, within ``CONNECT_TIMEOUT_S``, an address where nothing listens (Ray logs GCS time-outs for minutes)."""
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as e:
        raise ClusterError(f"no Ray cluster answers at {address} ({e.strerror or type(e).__name__} within "
                           f"{CONNECT_TIMEOUT_S:g} s): start one there (ray start --head --port {port}) or pass "
                           "the address that `ray start` printed") from None


def _probe(address: str) -> BaseException | None:
    """What the cluster's GCS answers a client without Ray's driver machinery: None (it accepts this
    process), the exception it raised, or :class:`ClusterError` when it does not answer in time."""
    from ray._raylet import GcsClient
    result: list[BaseException | None] = []

    def ask() -> None:
        try:
            GcsClient(address=address)
            result.append(None)
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            result.append(e)

    thread = threading.Thread(target=ask, daemon=True)  # GcsClient releases the GIL while it waits
    thread.start()
    thread.join(CONNECT_TIMEOUT_S)
    if not result:
        return ClusterError(f"something listens at {address} but does not answer as a Ray cluster (its GCS) "
                            f"within {CONNECT_TIMEOUT_S:g} s: check the port (ray start --head prints it)")
    return result[0]


def _follow_auth_mode(address: str) -> None:
    """Attach with the cluster's authentication mode, as ``ray start`` chooses it for a head.

    Ray 2.60's ``ray start --head`` turns token authentication on where a token exists
    (``~/.ray/auth_token``, ``RAY_AUTH_TOKEN``), while ``ray.init(address=...)`` attaches with it off
    unless ``RAY_AUTH_MODE=token`` is set: the cluster refuses it ("InvalidAuthToken"). So ask the
    cluster first; when it wants a token and this machine has one, set ``RAY_AUTH_MODE=token`` in
    this process's environment (what Ray does for a cluster it finds on its own) and ask again.
    A Ray without token authentication (before 2.5x) has nothing to follow.
    """
    try:
        from ray._raylet import AuthenticationMode, AuthenticationTokenLoader, Config, get_authentication_mode
        from ray.exceptions import AuthenticationError
    except ImportError:
        return
    fix = ("copy the head's token (`ray get-auth-token` there) to ~/.ray/auth_token here, or set "
           "RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH")
    loader = AuthenticationTokenLoader.instance()
    loader.reset_cache()
    if get_authentication_mode() == AuthenticationMode.TOKEN and not loader.has_token(ignore_auth_mode=True):
        # Ray's client ends the whole process (exit status 1, no message) when asked to connect so
        raise ClusterError(f"RAY_AUTH_MODE=token here, but this machine has no Ray token: {fix}")
    answer = _probe(address)
    if isinstance(answer, ClusterError):
        raise answer
    if not isinstance(answer, AuthenticationError):
        return  # accepted, or an error ray.init reports in its own words
    if get_authentication_mode() != AuthenticationMode.TOKEN:
        if os.environ.get("RAY_AUTH_MODE"):
            raise ClusterError(f"the Ray cluster at {address} uses token authentication, but RAY_AUTH_MODE="
                               f"{os.environ['RAY_AUTH_MODE']} here: unset it or set RAY_AUTH_MODE=token")
        if not loader.has_token(ignore_auth_mode=True):
            raise ClusterError(f"the Ray cluster at {address} uses token authentication and this machine has "
                               f"no token: {fix}")
        os.environ["RAY_AUTH_MODE"] = "token"
        Config.initialize("")  # Ray's own way to make this process see the new mode
        loader.reset_cache()
        answer = _probe(address)
        if isinstance(answer, ClusterError):
            raise answer
        if not isinstance(answer, AuthenticationError):
            return
    raise ClusterError(f"the Ray cluster at {address} refuses this machine's authentication token: {fix}")


def connect(address: str | None = None):
    """Attach to the Ray cluster at ``address`` (``"HOST:PORT"``), or let Ray find one.

    With no address Ray looks up ``RAY_ADDRESS``, then a cluster started on this machine,
    and otherwise starts a private one for this process. Returns the ``ray`` module.

    For a ``HOST:PORT`` address (or ``RAY_ADDRESS``): :class:`ClusterError` within
    ``CONNECT_TIMEOUT_S`` (10 s) when nothing answers there, and the cluster's authentication
    mode is followed (``_follow_auth_mode``): a head started by ``ray start --head`` on a
    machine that holds a Ray token works like one started on a fresh home. Asking for another
    address while attached to one is a :class:`ClusterError` (it used to run on the first).
    """
    global _attached
    ray = _import_ray()
    if ray.is_initialized():
        if address is not None and _attached is not None and address != _attached:
            raise ClusterError(f"this process is attached to the Ray cluster at {_attached}; call ray.shutdown() "
                               f"before attaching to {address}")
        return ray
    target = address or os.environ.get("RAY_ADDRESS")
    where = _host_port(target) if target else None
    if where is not None:
        _check_listening(target, *where)
        _follow_auth_mode(target)
    ray.init(address=address, log_to_driver=False, configure_logging=False)
    _attached = address
    return ray


def check_resources(ray, need: dict[str, float]) -> None:
    """Refuse a request no alive node can meet: Ray would wait for it forever, its warning hidden.

    ``need``: resources of one task (``{"CPU": 1, "GPU": 1}``); zeros are ignored. A node that
    autoscaling would add later does not count: start it first.
    """
    need = {k: v for k, v in need.items() if v}
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    if any(all(n.get("Resources", {}).get(k, 0) >= v for k, v in need.items()) for n in nodes):
        return
    have = "; ".join(f"{n.get('NodeManagerAddress', '?')}: " + ", ".join(
        f"{n.get('Resources', {}).get(k, 0):g} {k}" for k in need) for n in nodes) or "no alive node"
    asked = ", ".join(f"{v:g} {k}" for k, v in need.items())
    raise ClusterError(f"no node of the Ray cluster can run a task that asks for {asked} (nodes: {have}); ask for "
                       "less (--cpus-per-run, --gpus-per-run 0) or add a node that has them")


def run_grid_ray(cohorts: Sequence[Sequence[Experiment]], results: str | os.PathLike, *, address: str | None = None,
                 num_cpus: float = 1, num_gpus: float | None = None, max_retries: int = 3,
                 run: RunFn | None = None,
                 on_done: Callable[[int, list[History] | None, Exception | None], None] | None = None,
                 ) -> list[list[History] | NonFiniteLossError]:
    """Run each cohort as a Ray task; return each cohort's Histories (or its NonFiniteLossError) in order.

    :func:`resmix.study.grids.run_grid` submits only the runs not yet stored, grouped into cohorts.

    Args:
        cohorts: lists of runs sharing :func:`resmix.training.cohort.cohort_key`.
        results: the results folder, seen by every node.
        address: ``"HOST:PORT"`` of a running cluster; ``None``: Ray's own lookup.
        num_cpus: CPUs reserved per cohort; the cohort itself uses its runs' ``train.threads`` threads
            (part of their keys, so a grid gives the same numbers on any backend): reserve at least that many.
        num_gpus: GPUs per cohort, fractions allowed; ``None``: 1 where the cluster has GPUs, else 0.
        max_retries: how often a task whose worker died is started again (it resumes from the checkpoints).
        run: what a task calls, ``run(exps, results) -> [History]``; default
            :func:`resmix.study.runner.run_cohort` (tests pass one that fails on purpose).
        on_done: ``on_done(i, histories, error)`` as each cohort finishes (the progress line).
    """
    results = Path(results).resolve()
    ray = connect(address)
    if num_gpus is None:
        num_gpus = 1 if ray.cluster_resources().get("GPU", 0) > 0 else 0
    check_resources(ray, {"CPU": num_cpus, "GPU": num_gpus})
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
