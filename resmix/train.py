"""The training loop: seeded, resumable, with per-epoch held-out metrics.

``train(experiment) -> History``. Each epoch ends with a held-out evaluation
(:func:`evaluate`) whose numbers are what the book plots. Checkpoints are
written atomically after every epoch and loaded with ``weights_only=True``; a
resumed run on CPU ends with exactly the metrics of an uninterrupted one.
"""
from __future__ import annotations

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

from ._io import atomic_path
from .config import Experiment
from .data import frame, make_pairs, unframe
from .losses import compute_losses
from .metrics import leak_probe, log_spectral_distance, pearson, rms, spectral_flatness
from .models import TwoStageModel
from ._version import __version__


class NonFiniteLossError(FloatingPointError):
    """A loss term became NaN or infinite; the message names the epoch, step and term."""


@dataclass
class History:
    """Per-epoch records of one run, with the config and provenance that made them.

    ``records[i]`` is a flat dict of floats for epoch ``i + 1`` (keys such as
    ``val_rms_output``, ``val_corr_target``, ``train_total``). ``model`` is the
    trained model (not serialised).
    """

    experiment: dict[str, Any]
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
        return {"experiment": self.experiment, "records": self.records, "meta": self.meta}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "History":
        return cls(d["experiment"], d["records"], d["meta"])


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"``: CUDA when available, else CPU; anything else is passed to ``torch.device``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


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
    """Held-out metrics of a model on waveforms ``[B, N]``: loss terms, levels, correlations, leak probe.

    Keys: ``loss_*`` (each term and the total), ``rms_output``, ``rms_output1``,
    ``rms_target``, ``rms_input``, ``rms_ratio_db``, ``ac_fraction`` (std / RMS of
    the output: near 0 for a constant), ``corr_target``, ``corr_input``,
    ``corr_output1``, ``probe_a``, ``probe_b``, ``probe_r2``, ``flatness``, ``lsd``.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    sums: dict[str, float] = {}
    n = input.shape[0]
    for i in range(0, n, batch_size):
        xw, yw = input[i:i + batch_size].to(device), target[i:i + batch_size].to(device)
        x, y = frame(xw, exp.data.frame_size), frame(yw, exp.data.frame_size)
        parts = model.parts(x, y)
        terms = compute_losses(parts, x, y, exp.loss, exp.data.sample_rate)
        out = unframe(parts.output2.float())
        probe = leak_probe(out, xw, yw)
        values = {f"loss_{k}": v for k, v in terms.items().items()} | {
            "rms_output": rms(out), "rms_output1": rms(parts.output1), "rms_target": rms(yw),
            "rms_input": rms(xw), "rms_ratio_db": 20 * torch.log10(rms(out).clamp_min(1e-12) / rms(yw)),
            "ac_fraction": out.std(-1) / rms(out).clamp_min(1e-12),
            "corr_target": pearson(out, yw, 1e-12), "corr_input": pearson(out, xw, 1e-12),
            "corr_output1": pearson(parts.output2, parts.output1, 1e-12),
            "probe_a": probe.a, "probe_b": probe.b, "probe_r2": probe.r2,
            "flatness": spectral_flatness(out), "lsd": log_spectral_distance(out, yw),
        }
        for k, v in values.items():
            sums[k] = sums.get(k, 0.0) + float(v.float().mean()) * xw.shape[0]
    model.train(was_training)
    return {k: v / n for k, v in sums.items()}


def _save_atomic(obj: dict, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def _grad_norm(module: nn.Module) -> Tensor:
    grads = [p.grad.detach().float().pow(2).sum() for p in module.parameters() if p.grad is not None]
    return torch.stack(grads).sum().sqrt() if grads else torch.zeros(())


def train(exp: Experiment, *, train_data: tuple[Tensor, Tensor] | None = None,
          val_data: tuple[Tensor, Tensor] | None = None, checkpoint: str | os.PathLike | None = None,
          progress: bool = True, callback: Callable[[dict[str, float]], None] | None = None) -> History:
    """Train a :class:`TwoStageModel` as ``exp`` says and return its :class:`History`.

    Args:
        exp: the experiment (data, model, losses, training settings, seeds).
        train_data, val_data: ``(input, target)`` waveforms ``[n, N]``; by default
            :func:`~resmix.data.make_pairs` with ``exp.data.seed`` and ``seed + 1``.
        checkpoint: a file; written atomically after every epoch, and resumed from
            when it exists (its experiment must equal ``exp``).
        progress: show a tqdm bar over epochs.
        callback: called with each epoch's record after its checkpoint is written.

    Raises:
        NonFiniteLossError: a loss term became NaN or infinite (names epoch and term).
    """
    device = resolve_device(exp.train.device)
    train_data = train_data or make_pairs(exp.data.n_train, exp.data, seed=exp.data.seed)
    val_data = val_data or make_pairs(exp.data.n_val, exp.data, seed=exp.data.seed + 1)
    x_all, y_all = (frame(w, exp.data.frame_size).to(device) for w in train_data)  # (n, D, T)
    val_data = tuple(w.to(device) for w in val_data)  # moved once, not every epoch
    torch.manual_seed(exp.train.seed)
    model = TwoStageModel(exp.model).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=exp.train.lr, weight_decay=exp.train.weight_decay)
    gen = torch.Generator().manual_seed(exp.train.seed)
    history = History(exp.to_dict(), meta=provenance(device) | {"seed": exp.train.seed,
                                                                "profile": exp.profile})
    start = 0
    ckpt_path = Path(checkpoint) if checkpoint else None
    if ckpt_path and ckpt_path.exists():
        state = torch.load(ckpt_path, map_location=device, weights_only=True)
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
        record = {"epoch": float(epoch + 1)}
        record |= {f"train_{k}": v for k, v in zip(terms.items(), means)}
        record |= {"grad_norm_stage1": means[-2], "grad_norm_stage2": means[-1]}
        record |= {f"val_{k}": v for k, v in evaluate(model, *val_data, exp).items()}
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
