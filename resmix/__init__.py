"""resmix: a reproducible study of residual leakage in a two-stage conditional transformer.

Modules: :mod:`~resmix.config` (experiments and profiles), :mod:`~resmix.data`
(synthetic pairs, framing, WAV I/O), :mod:`~resmix.models` (the two designs),
:mod:`~resmix.losses`, :mod:`~resmix.metrics` (and leak diagnostics),
:mod:`~resmix.algebra` (exact coefficients), :mod:`~resmix.dynamics` (AdamW's weight-norm
equilibrium), :mod:`~resmix.train`, :mod:`~resmix.study` (grids of runs),
:mod:`~resmix.criteria` (pre-registered thresholds), :mod:`~resmix.score` (the remedy score
and its controls), :mod:`~resmix.stats` (paired bootstrap differences) and :mod:`~resmix.plots`.

Shapes: waveforms are ``[B, N]``; model tensors are ``[B, D, T]``.
"""
from .config import DataConfig, Experiment, LossConfig, ModelConfig, TrainConfig, get_profile
from .models import TwoStageModel
from .train import History, __version__, train

__all__ = ["DataConfig", "Experiment", "LossConfig", "ModelConfig", "TrainConfig", "get_profile",
           "TwoStageModel", "History", "train", "__version__"]
