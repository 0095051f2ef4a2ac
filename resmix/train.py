"""The training loop: seeded, resumable, with per-epoch held-out metrics.

``train(experiment) -> History``. Each epoch ends with a held-out evaluation
(:func:`evaluate`) whose numbers are what the book plots. Checkpoints are
written atomically after every epoch and loaded with ``weights_only=True``; a
resumed run on CPU ends with exactly the metrics of an uninterrupted one.
"""
from __future__ import annotations

import functools
import os
import platform
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor, nn

from ._checks import check_same_shape, check_tensor
from ._io import atomic_path, set_aside
from .config import Experiment, resolve_device  # noqa: F401 (resolve_device: also train's API)
from .data import frame, held_out, make_pairs
from .dynamics import adam_update_rms, make_optimizer, weight_rms
from .losses import compute_losses
from .measure import measure
from .metrics import pearson, rms
from .models import TwoStageModel
from ._version import __version__


class NonFiniteLossError(FloatingPointError):
    """A loss term became NaN or infinite; the message names the epoch, step and term."""


@dataclass
class History:
    """Per-epoch records of one run, with the config and provenance that made them.

    ``records[i]`` is a flat dict of floats for epoch ``i + 1`` (keys such as ``epoch``,
    ``step`` (optimizer steps so far), ``val_rms_output``, ``val_common_share``,
    ``train_total``, ``weight_rms_output``). ``model`` is the trained model (not serialised).
    """

    experiment: Experiment
    records: list[dict[str, float]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    model: nn.Module | None = field(default=None, repr=False, compare=False)

    def series(self, key: str) -> list[float]:
        """One metric over epochs."""
        if self.records and key not in self.records[0]:
            raise KeyError(f"no metric {key!r}; known: {sorted(self.records[0])}")
        return [r[key] for r in self.records]

    @property
    def last(self) -> dict[str, float]:
        return self.records[-1]

    def to_dict(self) -> dict[str, Any]:
        return {"experiment": self.experiment.to_dict(), "records": self.records, "meta": self.meta}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "History":
        return cls(Experiment.from_dict(d["experiment"]), d["records"], d["meta"])

    @property
    def steps_per_epoch(self) -> int:
        """Optimizer steps in one epoch (one pass over the training pairs)."""
        return round(self.records[0]["step"] / self.records[0]["epoch"]) if self.records else 0


def provenance(device: torch.device) -> dict[str, Any]:
    """Device and library versions, stored beside every result."""
    return {
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine(),
        "torch": torch.__version__, "numpy": np.__version__, "python": sys.version.split()[0],
        "resmix": __version__, "platform": platform.platform(), "threads": torch.get_num_threads(),
    }


@torch.no_grad()
def evaluate(model: TwoStageModel, input: Tensor, target: Tensor, exp: Experiment,
             batch_size: int = 256) -> dict[str, float]:
    """Held-out metrics of a model on waveforms ``[B, N]``: each loss term and :func:`~resmix.measure.measure`.

    Keys: ``loss_*`` (each term and the total), ``rms_output1`` and ``corr_output1`` (stage 2
    against stage 1), and every key of :func:`~resmix.measure.measure`. Batches of
    ``batch_size`` clips are averaged, weighted by their size.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    sums: dict[str, float] = {}
    n = input.shape[0]
    n_batches = -(-n // batch_size)
    for chunk in torch.arange(n).tensor_split(n_batches):  # even batches: no batch of one clip
        xw, yw = input[chunk].to(device), target[chunk].to(device)
        x, y = frame(xw, exp.data.frame_size), frame(yw, exp.data.frame_size)
        parts = model.parts(x, y)
        terms = compute_losses(parts, x, y, exp.loss, exp.data.sample_rate)
        _check_finite_terms(terms, f"held-out clips {int(chunk[0]) + 1}-{int(chunk[-1]) + 1}")
        values = {f"loss_{k}": float(v) for k, v in terms.items().items()}
        values["rms_output1"] = float(rms(parts.output1).mean())
        values["corr_output1"] = float(pearson(parts.output2, parts.output1, 1e-12).mean())
        values |= measure(model, x, y, exp.data.sample_rate, output=parts.output2)
        for k, v in values.items():
            sums[k] = sums.get(k, 0.0) + v * len(chunk)
    model.train(was_training)
    return {k: v / n for k, v in sums.items()}


def _check_finite_terms(terms, where: str) -> None:
    bad = [k for k, v in terms.items().items() if not torch.isfinite(v)]
    if bad:
        raise NonFiniteLossError(
            f"{where}: loss term {bad[0]!r} is {float(terms.items()[bad[0]].detach())}; lower the "
            "learning rate, or raise loss.eps if the output has gone constant (Pearson is 0/0 there)")


def _check_pairs(data: object, name: str) -> tuple[Tensor, Tensor]:
    """``(input, target)`` waveforms ``[n, N]`` as float32 (float64 and bf16 are cast)."""
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"{name} must be a pair (input, target) of waveforms [n, N]; got "
                        f"{type(data).__name__}" + (f" of {len(data)}" if isinstance(data, (tuple, list)) else ""))
    x, y = (check_tensor(w, f"{name} {part}", 2, "[n, N]") for w, part in zip(data, ("input", "target")))
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{name} must hold as many targets as inputs; got {x.shape[0]} inputs "
                         f"{list(x.shape)} and {y.shape[0]} targets {list(y.shape)}")
    check_same_shape("[n, N]", **{f"{name} input": x, f"{name} target": y})
    return x.float(), y.float()


_CHECKPOINT_KEYS = {"experiment", "model", "optimizer", "generator", "torch_rng", "records"}


def _load_checkpoint(path: Path, device: torch.device) -> dict | None:
    """A checkpoint's state; ``None`` when there is none or it is unreadable (then set aside, with a warning).

    Checkpoints are written atomically, so a damaged one comes from outside (a full or
    failing disk, a copy cut short): the run starts afresh rather than failing on every rerun.
    """
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location=device, weights_only=True)
        missing = _CHECKPOINT_KEYS - set(state) if isinstance(state, dict) else _CHECKPOINT_KEYS
        if missing:
            raise ValueError(f"no entries {sorted(missing)}")
    except Exception as e:  # torch.load fails in many ways (EOFError, RuntimeError, UnpicklingError, ...)
        set_aside(path, f"unreadable checkpoint ({type(e).__name__}: {e}); training this run afresh")
        return None
    return state


def _with_threads(fn: Callable[..., History]) -> Callable[..., History]:
    """Run ``fn(exp, ...)`` on ``exp.train.threads`` CPU threads, restoring the caller's count after.

    The thread count changes how float sums are split, so it is part of the run's
    settings: the same experiment gives the same numbers in any process.
    """
    @functools.wraps(fn)
    def run(exp: Experiment, *args: Any, **kwargs: Any) -> History:
        before = torch.get_num_threads()
        torch.set_num_threads(exp.train.threads)
        try:
            return fn(exp, *args, **kwargs)
        finally:
            torch.set_num_threads(before)
    return run


def _save_atomic(obj: dict, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def _grad_norm(module: nn.Module) -> Tensor:
    grads = [p.grad.detach().float().pow(2).sum() for p in module.parameters() if p.grad is not None]
    return torch.stack(grads).sum().sqrt() if grads else torch.zeros(())


@_with_threads
def train(exp: Experiment, *, train_data: tuple[Tensor, Tensor] | None = None,
          val_data: tuple[Tensor, Tensor] | None = None, checkpoint: str | os.PathLike | None = None,
          progress: bool = True, callback: Callable[[dict[str, float]], None] | None = None) -> History:
    """Train a :class:`TwoStageModel` as ``exp`` says and return its :class:`History`.

    Args:
        exp: the experiment (data, model, losses, training settings, seeds).
        train_data, val_data: ``(input, target)`` waveforms ``[n, N]`` (any float dtype,
            cast to float32); by default :func:`~resmix.data.make_pairs` with
            ``exp.data.seed`` and ``seed + 1``.
        checkpoint: a file; written atomically after every epoch, and resumed from
            when it exists (its experiment must equal ``exp``; an unreadable one is
            set aside as ``<name>.damaged`` with a warning and the run starts afresh).
        progress: show a tqdm bar over epochs.
        callback: called with each epoch's record after its checkpoint is written.

    Raises:
        NonFiniteLossError: a loss term became NaN or infinite (names epoch and term),
            in training or on the held-out data after the epoch's last step.

    The run uses ``exp.train.threads`` CPU threads; the caller's count is restored after.
    """
    device = resolve_device(exp.train.device)
    train_data = (_check_pairs(train_data, "train_data") if train_data is not None
                  else make_pairs(exp.data.n_train, exp.data, seed=exp.data.seed))
    val_data = _check_pairs(val_data, "val_data") if val_data is not None else held_out(exp.data)
    x_all, y_all = (frame(w, exp.data.frame_size).to(device) for w in train_data)  # (n, D, T)
    val_data = tuple(w.to(device) for w in val_data)  # moved once, not every epoch
    torch.manual_seed(exp.train.seed)
    model = TwoStageModel(exp.model).to(device)
    opt = make_optimizer(model, exp.train)
    gen = torch.Generator().manual_seed(exp.train.seed)
    history = History(exp, meta=provenance(device) | {"seed": exp.train.seed,
                                                                "profile": exp.profile})
    start = 0
    ckpt_path = Path(checkpoint) if checkpoint else None
    state = _load_checkpoint(ckpt_path, device) if ckpt_path else None
    if state is not None:
        if state["experiment"] != exp.to_dict():
            raise ValueError(f"{ckpt_path} was written by a different experiment; "
                             "delete it or pass another checkpoint path")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["generator"].cpu())  # map_location moved every tensor to the device
        torch.set_rng_state(state["torch_rng"].cpu())
        if device.type == "cuda" and "cuda_rng" in state:  # absent in checkpoints written on CPU
            torch.cuda.set_rng_state(state["cuda_rng"].cpu(), device)
        history.records, start = state["records"], len(state["records"])
    use_amp = exp.train.amp and device.type in ("cuda", "cpu")
    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if use_amp else nullcontext
    n, bs = x_all.shape[0], exp.train.batch_size
    epochs = range(start, exp.train.epochs)
    if progress:
        from tqdm.auto import tqdm
        epochs = tqdm(epochs, desc=exp.name, initial=start, total=exp.train.epochs)
    for epoch in epochs:
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(n, generator=gen)
        sums, steps = None, 0
        for step, i in enumerate(range(0, n, bs)):
            idx = perm[i:i + bs].to(device)
            x, y = x_all[idx], y_all[idx]
            with autocast():
                parts = model.parts(x, y)
            terms = compute_losses(parts, x, y, exp.loss, exp.data.sample_rate)
            if not torch.isfinite(terms.total):
                bad = [k for k, v in terms.items().items() if not torch.isfinite(v)]
                raise NonFiniteLossError(
                    f"epoch {epoch + 1}, step {step + 1}: loss term {bad[0]!r} is "
                    f"{float(terms.items()[bad[0]].detach())}; lower the learning rate, or raise loss.eps "
                    f"if the output has gone constant (Pearson is 0/0 there)")
            opt.zero_grad(set_to_none=True)
            terms.total.backward()
            norms = torch.stack([_grad_norm(model.stage1), _grad_norm(model.stage2)])
            if exp.train.grad_clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), exp.train.grad_clip)
            opt.step()
            row = torch.cat([torch.stack([v.detach().float() for v in terms.items().values()]), norms.to(device)])
            sums = row if sums is None else sums + row
            steps += 1
        means = (sums / steps).tolist()
        record = {"epoch": float(epoch + 1), "step": float((epoch + 1) * steps)}
        record |= {f"train_{k}": v for k, v in zip(terms.items(), means)}
        record |= {"grad_norm_stage1": means[-2], "grad_norm_stage2": means[-1]}
        weights = weight_rms(model)  # beside dynamics.equilibrium_rms: where AdamW pulls them
        record |= {"weight_rms_output": weights.output, "weight_rms_matrices": weights.matrices,
                   "weight_rms_vectors": weights.vectors, "adam_update_rms": adam_update_rms(opt)}
        try:
            val = evaluate(model, *val_data, exp)
        except NonFiniteLossError as e:  # the epoch's last update diverged: no training step saw it
            raise NonFiniteLossError(f"epoch {epoch + 1}, after step {steps} (its last), {e}") from None
        record |= {f"val_{k}": v for k, v in val.items()}
        record["seconds"] = time.perf_counter() - t0
        history.records.append(record)
        if ckpt_path:
            rng = {"cuda_rng": torch.cuda.get_rng_state(device)} if device.type == "cuda" else {}
            _save_atomic({"experiment": exp.to_dict(), "model": model.state_dict(),
                          "optimizer": opt.state_dict(), "generator": gen.get_state(),
                          "torch_rng": torch.get_rng_state(), "records": history.records} | rng, ckpt_path)
        if progress:
            epochs.set_postfix(rms=f"{record['val_rms_output']:.3g}", corr=f"{record['val_corr_target']:.3f}")
        if callback:
            callback(record)
    history.model = model.eval()
    return history
