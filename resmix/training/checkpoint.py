"""One run's checkpoint: everything that makes its next epoch what it would have been, verified on load.

A cohort (:mod:`resmix.training.cohort`) writes one file per member after every epoch, so a member resumes
the same wherever it runs next (alone, in another cohort, at another position). The file holds
the member's parameters and AdamW moments as rows ``[P]`` in the order of :class:`~resmix.models.stacked.Layout`,
its steps taken, its batch-order generator and its records. Files are written atomically and read
with ``weights_only=True``; a file that is unreadable, of another format, of the wrong shapes or
whose records do not add up is set aside as ``<name>.damaged`` (with a warning) and the run starts
afresh; one written by a different experiment is an error (the caller passed the wrong path).
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from resmix._io import atomic_path, set_aside
from resmix.config import Experiment
from resmix.models.stacked import Layout

FORMAT = "resmix-member-checkpoint-1"


@dataclass
class MemberState:
    """A member's state after ``len(records)`` epochs."""

    params: Tensor  # (P,)
    exp_avg: Tensor  # (P,)
    exp_avg_sq: Tensor  # (P,)
    steps: int
    generator: Tensor  # torch.Generator state (uint8)
    records: list[dict[str, float]]


def _layout_rows(layout: Layout) -> list[list]:
    return [[n, list(s)] for n, s in zip(layout.names, layout.shapes)]


def save(path: Path, exp: Experiment, layout: Layout, state: MemberState) -> None:
    """Write ``state`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, "experiment": exp.to_dict(), "layout": _layout_rows(layout),
                    "params": state.params.detach().cpu().clone(), "exp_avg": state.exp_avg.cpu().clone(),
                    "exp_avg_sq": state.exp_avg_sq.cpu().clone(), "steps": state.steps,
                    "generator": state.generator.cpu(), "records": state.records}, tmp)


def check_path(path: Path) -> None:
    """A checkpoint path must name a file (or nothing yet), never a folder of the caller's."""
    if path.is_dir():
        raise ValueError(f"checkpoint {path} is a directory; expected the path of a checkpoint file "
                         f"(it is created), e.g. {path / 'run.pt'}")


def _problem(d: object, exp: Experiment, layout: Layout, steps_per_epoch: int) -> str | None:
    """Why a loaded checkpoint cannot be resumed (``None``: it can)."""
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        return f"not a resmix member checkpoint (expected format {FORMAT!r})"
    if d.get("layout") != _layout_rows(layout):
        return "its parameters do not have this model's names and shapes"
    for key in ("params", "exp_avg", "exp_avg_sq"):
        t = d.get(key)
        if not isinstance(t, Tensor) or t.shape != (layout.size,) or t.dtype != torch.float32:
            return f"{key} is not a float32 tensor of {layout.size} values"
        if not torch.isfinite(t).all():
            return f"{key} holds NaN or infinite values"
    records, steps = d.get("records"), d.get("steps")
    if not isinstance(records, list) or not isinstance(steps, int) or isinstance(steps, bool):
        return "records or steps are missing"
    if len(records) > exp.train.epochs:
        return f"it holds {len(records)} epochs, more than the run's {exp.train.epochs}"
    for i, r in enumerate(records):
        if not isinstance(r, dict) or r.get("epoch") != i + 1:
            return f"record {i} is not the record of epoch {i + 1}"
        bad = [k for k, v in r.items() if not isinstance(k, str) or not isinstance(v, numbers.Real)
               or isinstance(v, bool)]
        if bad:
            return f"record of epoch {i + 1} has non-numeric values {bad[:3]}"
        if r.get("step") != (i + 1) * steps_per_epoch:
            return f"record of epoch {i + 1} says step {r.get('step')}, expected {(i + 1) * steps_per_epoch}"
    if steps != len(records) * steps_per_epoch:
        return f"{steps} steps taken do not match {len(records)} epochs of {steps_per_epoch} steps"
    if not isinstance(d.get("generator"), Tensor) or d["generator"].dtype != torch.uint8:
        return "the batch-order generator's state is missing"
    return None


def load(path: Path, exp: Experiment, layout: Layout, steps_per_epoch: int) -> MemberState | None:
    """The member state at ``path``; ``None`` when there is none or it cannot be resumed (then set aside)."""
    check_path(path)
    if not path.exists():
        return None
    try:
        d = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch.load fails in many ways (EOFError, RuntimeError, UnpicklingError, ...)
        set_aside(path, f"unreadable checkpoint ({type(e).__name__}: {e}); training this run afresh")
        return None
    if isinstance(d, dict) and d.get("format") == FORMAT and d.get("experiment") != exp.to_dict():
        raise ValueError(f"{path} was written by a different experiment; delete it or pass another checkpoint path")
    why = _problem(d, exp, layout, steps_per_epoch)
    if why:
        set_aside(path, f"checkpoint cannot be resumed ({why}); training this run afresh")
        return None
    return MemberState(d["params"], d["exp_avg"], d["exp_avg_sq"], d["steps"], d["generator"],
                       [{k: float(v) for k, v in r.items()} for r in d["records"]])



def read_model(path: Path):
    """The experiment and the model of a checkpoint, as of its last epoch: ``(Experiment, TwoStageModel)``."""
    from resmix.models.stacked import initial_rows, member_model
    d = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise ValueError(f"{path} is not a resmix member checkpoint (expected format {FORMAT!r})")
    exp = Experiment.from_dict(d["experiment"])
    layout, _ = initial_rows([exp.model], [exp.train.seed])
    why = _problem(d, exp, layout, round(d["steps"] / max(1, len(d["records"]))) if d.get("records") else 0)
    if why and d.get("records"):
        raise ValueError(f"{path}: {why}")
    return exp, member_model(exp.model, layout, d["params"]).eval()
