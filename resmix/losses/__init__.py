"""The loss layer: the penalties and reconstruction terms a run is trained on, one run or a cohort.

- :mod:`~resmix.losses.correlation`: anti-correlation with the target and novelty against the inputs,
  Pearson with an epsilon, over clips, frames or the batch, optionally over a window of lags;
- :mod:`~resmix.losses.reconstruction`: waveform MSE, multi-resolution STFT, and what they match;
- :mod:`~resmix.losses.objective`: the weighted total with the variance hinge, per member of a cohort
  (:class:`~resmix.losses.objective.LossTable`), and the epsilon pull that says where a run stands.

Imports from: the foundation, resmix.data (framing) and resmix.models (a forward pass's outputs).
"""
from .correlation import anti_correlation, correlations, novelty
from .objective import LossTable, LossTerms, cohort_losses, compute_losses, epsilon_pull, variance_hinge
from .reconstruction import mrstft_loss, reconstruction_reference

__all__ = ["anti_correlation", "correlations", "novelty", "LossTable", "LossTerms", "cohort_losses",
           "compute_losses", "epsilon_pull", "variance_hinge", "mrstft_loss", "reconstruction_reference"]
