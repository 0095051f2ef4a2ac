"""The model layer: the two-stage conditional transformer, one at a time or many stacked.

- :mod:`~resmix.models.two_stage`: :class:`~resmix.models.two_stage.TwoStageModel` with the seed's
  residual averages (``"leaky"``) or without them (``"none"``);
- :mod:`~resmix.models.stacked`: ``E`` such models as one, their parameters stacked ``[E, ...]``, run at
  once, bit-equal to each model alone (what a cohort trains).

Imports from: resmix.config (the foundation) and nothing else of resmix.
"""
from .two_stage import StageOutputs, TwoStageModel

__all__ = ["StageOutputs", "TwoStageModel"]
