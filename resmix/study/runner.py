"""Runs against a results folder: a cohort's members claimed, trained together, stored one by one.

A results folder is the ledger (``resmix.study.store``): ``<key>.json`` holds a run's History and
``<key>.model.pt`` its weights, so a stored run is loaded, never trained again. :func:`run_cohort`
claims each member's key with a lock (``locks/<key>.lock``) before training it, so two processes
on one folder never train the same run twice: a member claimed elsewhere is waited for and then
loaded. Members train together as one cohort (:func:`resmix.training.cohort.train_cohort`), each with its
own checkpoint ``ckpt/<key>.pt``, so an interrupted cohort resumes every member.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Sequence

from resmix._io import atomic_path, set_aside
from resmix.config import Experiment
from resmix.training.cohort import train_cohort
from resmix.training.history import History, NonFiniteLossError

from .keys import run_key
from .store import claim, read_result, stale_leftovers, writable_folder


def _write_json(obj: dict, path: Path) -> None:
    import json
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(obj, f, indent=1)


def _save_model(model, path: Path) -> None:
    import torch
    with atomic_path(path) as tmp:
        torch.save({k: v.cpu() for k, v in model.state_dict().items()}, tmp)


def _numbers(h: History) -> list[dict[str, float]]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in h.records]


def _ready(results: Path, key: str) -> History | None:
    """The stored run of ``key`` when its result and weights are both there and nothing is left over."""
    stored = read_result(results / f"{key}.json")
    if stored is not None and (results / f"{key}.model.pt").exists() and not stale_leftovers(results, key):
        return stored
    return None


def _lock(results: Path, key: str):
    """The key's lock if this process gets it now, else ``None`` (another process holds it)."""
    from filelock import Timeout
    lock = claim(results, key)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return None
    return lock


def run_cohort(exps: Sequence[Experiment], results: str | os.PathLike) -> list[History]:
    """Each run's stored History, training the runs not yet stored together as one cohort.

    The members must share :func:`resmix.training.cohort.cohort_key`. A damaged stored result is set aside
    (``<name>.damaged``, with a :class:`~resmix._io.DamagedFileWarning`) and recomputed; a stored
    result whose weights file is missing is retrained to rebuild the weights (its records are kept).

    Raises:
        NonFiniteLossError: some members diverged; every other member is stored first, and the
            message names each diverged run.
    """
    results = Path(results)
    exps = list(exps)
    keys = [run_key(e) for e in exps]
    out: dict[int, History] = {i: h for i, k in enumerate(keys) if (h := _ready(results, k)) is not None}
    todo = [i for i in range(len(exps)) if i not in out]
    if not todo:
        return [out[i] for i in range(len(exps))]
    writable_folder(results)
    locks, waiting = {}, []
    for i in todo:
        lock = _lock(results, keys[i])
        (waiting.append(i) if lock is None else locks.__setitem__(i, lock))
    errors: list[str] = []
    try:
        errors += _train_claimed(exps, keys, sorted(locks), results, out)
    finally:
        for lock in locks.values():
            lock.release()
    for i in waiting:  # claimed by another process: wait for its claim, then load what it stored
        with claim(results, keys[i]):  # (or train it, if that process died without storing it)
            errors += _train_claimed(exps, keys, [i], results, out)
    if errors:
        raise NonFiniteLossError("; ".join(errors))
    return [out[i] for i in range(len(exps))]


def _train_claimed(exps, keys, mine: list[int], results: Path, out: dict[int, History]) -> list[str]:
    """Train the claimed members not stored meanwhile; store each; return the diverged runs' messages."""
    stored = {}
    for i in mine:
        for p in stale_leftovers(results, keys[i]):  # this process holds the claim: the leftovers are dead
            p.unlink(missing_ok=True)
        h = read_result(results / f"{keys[i]}.json")  # another process may have stored it while we waited
        if h is not None and (results / f"{keys[i]}.model.pt").exists():
            out[i] = h
        elif h is not None:
            warnings.warn(f"{results / keys[i]}.model.pt is missing although {keys[i]}.json is stored; "
                          "retraining the run to rebuild its weights", stacklevel=3)
            stored[i] = h
    train = [i for i in mine if i not in out]
    if not train:
        return []
    ckpts = [results / "ckpt" / f"{keys[i]}.pt" for i in train]
    errors = []

    def store(j: int, h: History | NonFiniteLossError) -> None:  # as each member leaves the cohort
        i, ck = train[j], ckpts[j]
        if isinstance(h, NonFiniteLossError):
            errors.append(f"{exps[i].name!r}: {h}")
            return
        _save_model(h.model, results / f"{keys[i]}.model.pt")
        if i not in stored:
            _write_json(h.to_dict(), results / f"{keys[i]}.json")
        elif _numbers(stored[i]) != _numbers(h):
            warnings.warn(f"{keys[i]}.model.pt: the rebuilt weights come from a rerun whose records differ from "
                          f"the stored {keys[i]}.json (another device or library?); the stored records are kept",
                          stacklevel=4)
        if i in stored:
            stored[i].model, h = h.model, stored[i]
        ck.unlink(missing_ok=True)
        out[i] = h

    train_cohort([exps[i] for i in train], checkpoints=ckpts, progress=False, on_done=store)
    return errors


def run_one(exp: Experiment, results: str | os.PathLike, threads: int | None = None) -> History:
    """Run ``exp`` unless its result is stored; return the stored or new :class:`History` (a cohort of one).

    ``threads`` is kept for older callers: the run uses ``exp.train.threads``, which is
    part of its key, so the same key gives the same numbers in any process.
    """
    if threads is not None and threads != exp.train.threads:
        warnings.warn(f"run_one(threads={threads}) is ignored: the run uses its own train.threads="
                      f"{exp.train.threads}, which is part of its key", stacklevel=2)
    return run_cohort([exp], results)[0]


def load_model(exp: Experiment, results: str | os.PathLike):
    """The trained :class:`~resmix.models.two_stage.TwoStageModel` of a stored run (CPU, eval mode)."""
    import torch

    from resmix.models.two_stage import TwoStageModel
    path = Path(results) / f"{run_key(exp)}.model.pt"
    if not path.exists():
        if (Path(results) / f"{run_key(exp)}.json").exists():
            raise FileNotFoundError(f"{path} is missing although the result of {exp.name!r} is stored; "
                                    "run_one(exp, results) retrains the run to rebuild its weights")
        raise FileNotFoundError(f"no stored model for {exp.name!r} in {results}; run it with run_one first")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model = TwoStageModel(exp.model)
        model.load_state_dict(state)
    except Exception as e:  # torch.load and load_state_dict fail in many ways on a damaged or foreign file
        set_aside(path, f"unreadable weights ({type(e).__name__}: {e})")
        raise ValueError(f"{path} was unreadable ({type(e).__name__}) and is set aside; "
                         "run_one(exp, results) retrains the run to rebuild its weights") from None
    return model.eval()
