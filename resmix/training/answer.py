"""A trained positive control for the remedy score: a model taught, by reconstruction, to give a real answer.

The chorales hold a third voice that answers the two a model is given: the tenor fits the soprano
(input) and the bass (target) and copies neither. :func:`train_answer` trains the two-stage model on
``(input, target) -> answer`` with the reconstruction terms alone, so what it learns is known: if
a score cannot pass *its* output once it has learned the answer, the score is wrong, not the model.
This is not the study's training path (no penalties, no records, no checkpoints): a short,
seeded loop for one control, kept beside the engine so that both use the same model and losses.

Imports from: the foundation, resmix.data, resmix.models, resmix.losses.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from resmix._checks import check_same_shape, check_tensor
from resmix.config import Experiment, resolve_device
from resmix.data.framing import frame
from resmix.losses.reconstruction import mrstft_loss
from resmix.models.two_stage import TwoStageModel

__all__ = ["AnswerRun", "train_answer"]


@dataclass
class AnswerRun:
    """What :func:`train_answer` leaves: the model (in eval mode) and its mean training loss per epoch."""

    model: TwoStageModel
    losses: list[float]


def train_answer(exp: Experiment, input: Tensor, target: Tensor, answer: Tensor,
                 mse_weight: float = 1.0, mrstft_weight: float = 1.0) -> AnswerRun:
    """Train ``exp.model`` so that ``model(input, target)`` is ``answer``: ``mse_weight`` times the waveform
    MSE plus ``mrstft_weight`` times the MR-STFT loss, nothing else.

    Settings from ``exp.train`` (epochs, batch size, AdamW's lr and weight decay on every parameter,
    gradient clipping, seed for initialisation, batch order and any dropout, threads, device; ``train.amp``
    is not used: fp32 throughout); the caller's RNG state and thread count are restored after, and the
    model comes back on the CPU.

    Shape: waveforms ``[n, N]``, aligned clip for clip; ``N`` a multiple of ``exp.data.frame_size``.
    """
    for name, w in (("input", input), ("target", target), ("answer", answer)):
        check_tensor(w, name, 2, "[n, N]")
    check_same_shape("[n, N]", input=input, target=target, answer=answer)
    if mse_weight < 0 or mrstft_weight < 0 or mse_weight + mrstft_weight == 0:
        raise ValueError(f"train_answer needs non-negative weights, not both 0; got mse {mse_weight}, mrstft {mrstft_weight}")
    t, d = exp.train, exp.data
    device = resolve_device(t.device)
    x, y, a = (frame(w.float(), d.frame_size).to(device) for w in (input, target, answer))  # (n, D, T)
    before = torch.get_num_threads()
    torch.set_num_threads(t.threads)
    try:
        with torch.random.fork_rng(devices=[]):  # the whole run: initialisation and any dropout draw from t.seed
            torch.manual_seed(t.seed)
            return _train(exp, device, x, y, a, mse_weight, mrstft_weight)
    finally:
        torch.set_num_threads(before)


def _train(exp: Experiment, device, x: Tensor, y: Tensor, a: Tensor, mse_weight: float, mrstft_weight: float) -> AnswerRun:
    """:func:`train_answer`'s loop, inside its forked, seeded RNG. Shape: ``[n, D, T]`` each, on ``device``."""
    t, d = exp.train, exp.data
    model = TwoStageModel(exp.model).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=t.lr, weight_decay=t.weight_decay)
    gen = torch.Generator().manual_seed(t.seed)
    losses = []
    model.train()
    for _ in range(t.epochs):
        order, total = torch.randperm(len(x), generator=gen), 0.0
        batches = order.split(t.batch_size)
        for b in batches:
            out = model(x[b], y[b])[-1]  # (b, D, T)
            loss = mse_weight * (out - a[b]).pow(2).mean() + mrstft_weight * mrstft_loss(out, a[b], d.sample_rate)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if t.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
            opt.step()
            total += float(loss.detach())
        losses.append(total / len(batches))
    return AnswerRun(model.cpu().eval(), losses)
