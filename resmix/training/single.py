"""Training one run: the cohort of one, so there is one training path.

``train(experiment) -> History``. Each epoch ends with a held-out evaluation whose numbers are
what the book plots. Checkpoints are written atomically after every epoch and verified on load
(:mod:`resmix.training.checkpoint`); a resumed run ends with exactly the records of an uninterrupted one.
Many runs train faster together: :func:`resmix.training.cohort.train_cohort`, which ``study.run_grid`` uses.
"""
from __future__ import annotations

import os
from typing import Callable

import torch
from torch import Tensor

from resmix.config import Experiment
from resmix.losses.objective import LossTable
from resmix.models.two_stage import StageOutputs, TwoStageModel

from .cohort import evaluate_members, train_cohort
from .history import History, NonFiniteLossError

__all__ = ["train", "evaluate"]


def train(exp: Experiment, *, train_data: tuple[Tensor, Tensor] | None = None,
          val_data: tuple[Tensor, Tensor] | None = None, checkpoint: str | os.PathLike | None = None,
          progress: bool = True, callback: Callable[[dict[str, float]], None] | None = None) -> History:
    """Train a :class:`TwoStageModel` as ``exp`` says and return its :class:`History`.

    Args:
        exp: the experiment (data, model, losses, training settings, seeds).
        train_data, val_data: ``(input, target)`` waveforms ``[n, N]`` (any float dtype, cast to
            float32) that ``exp.data`` describes (``n_train`` / ``n_val`` clips of ``n_samples``);
            by default :func:`~resmix.data.sources.training_pairs` and :func:`~resmix.data.sources.held_out` of ``exp.data``
            (its source: synthetic pairs, or a real corpus).
        checkpoint: a file; written atomically after every epoch, and resumed from when it
            exists (its experiment must equal ``exp``; one that cannot be resumed is set aside
            as ``<name>.damaged`` with a warning and the run starts afresh).
        progress: show a tqdm bar over epochs.
        callback: called with each epoch's record after its checkpoint is written.

    Raises:
        NonFiniteLossError: a loss term became NaN or infinite (names epoch and term),
            in training or on the held-out data after the epoch's last step.

    The run uses ``exp.train.threads`` CPU threads; the caller's count is restored after.
    """
    result = train_cohort([exp], checkpoints=[checkpoint], train_data=train_data, val_data=val_data,
                          progress=progress, callback=(lambda i, r: callback(r)) if callback else None)[0]
    if isinstance(result, NonFiniteLossError):
        raise result
    return result


@torch.no_grad()
def evaluate(model: TwoStageModel, input: Tensor, target: Tensor, exp: Experiment,
             batch_size: int = 256) -> dict[str, float]:
    """Held-out metrics of a model on waveforms ``[B, N]``, as every training epoch records them.

    Keys: ``loss_*`` (each term and the total), ``rms_output1`` and ``corr_output1`` (stage 2
    against stage 1), and every key of :func:`~resmix.measure.readout.measure`.

    Raises:
        NonFiniteLossError: a loss term is NaN or infinite on these clips.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device

    def forward(x, y):  # a cohort of one: [1, b, D, T]
        p = model.parts(x[0], y[0])
        return StageOutputs(*(t.unsqueeze(0) for t in (p.branch1, p.output1, p.branch2, p.output2)))

    try:
        table = LossTable.of([exp.loss], device, exp.data.sample_rate)
        values, failed = evaluate_members(forward, table, input[None].to(device),
                                          target[None].to(device), exp.data.frame_size, exp.data.sample_rate,
                                          batch_size)
    finally:
        model.train(was_training)
    if failed[0]:
        raise NonFiniteLossError(failed[0])
    return values[0]
