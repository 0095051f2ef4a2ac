"""resmix: a reproducible study of residual leakage in a two-stage conditional transformer.

The package is built in layers; each imports only the layers below it (``tests/test_layers.py``
reads every import and fails on an upward one or a circle):

1. the foundation: :mod:`~resmix.config` (experiments and profiles) and :mod:`~resmix.criteria` (every
   pre-registered threshold), with the private helpers ``_checks``, ``_io`` and ``_version``;
2. :mod:`resmix.data` (waveforms from every source, framing, WAV) and :mod:`resmix.models` (the two designs);
3. :mod:`resmix.losses` (the penalties and reconstruction terms);
4. :mod:`resmix.measure` (metrics, diagnostics, the remedy score, the exact theory, statistics);
5. :mod:`resmix.training` (cohorts, one run, AdamW, checkpoints, histories);
6. :mod:`resmix.study` (keys, the store, scheduling, the runner, grids, Ray, the command line);
7. :mod:`resmix.registrations` (what is tested and how it is judged, committed before the runs);
8. :mod:`resmix.book` (run plans, readings, claims, tables, figures, players for the book's pages).

Shapes: waveforms are ``[B, N]``; model tensors are ``[B, D, T]``.
"""
from resmix import _mkl

_mkl.enable()  # MKL's fast path on an AMD CPU: acts only before torch is imported (see resmix._mkl)

from resmix._version import __version__  # noqa: E402
from resmix.config import DataConfig, Experiment, LossConfig, ModelConfig, TrainConfig, get_profile
from resmix.models import TwoStageModel
from resmix.training import History, train

__all__ = ["DataConfig", "Experiment", "LossConfig", "ModelConfig", "TrainConfig", "get_profile",
           "TwoStageModel", "History", "train", "__version__"]
