"""The measurement layer: what a model's output is, what theory predicts, and how sure a comparison is.

- :mod:`~resmix.measure.metrics`: pure metrics of tensors (levels, correlations, spectra, the leak probe);
- :mod:`~resmix.measure.readout`: every metric of a model on held-out clips at once (what training
  records each epoch and a diagnosis reports);
- :mod:`~resmix.measure.diagnostics`: the zero-weights test, the decomposition and the level forces of
  any model; :mod:`~resmix.measure.score`: the remedy score and the controls that show it can fail;
- :mod:`~resmix.measure.algebra` (the leak's exact coefficients) and :mod:`~resmix.measure.dynamics`
  (AdamW's weight-norm equilibrium): the theory the measurements are held against;
- :mod:`~resmix.measure.stats`: paired differences over seeds with bootstrap intervals, and verdicts.

Imports from: the foundation, resmix.data, resmix.models and resmix.losses. Never trains.
"""
from .diagnostics import decompose, diagnose, level_forces
from .metrics import pearson, rms, rms_ratio_db
from .readout import measure
from .score import remedy_score
from .stats import paired_difference

__all__ = ["decompose", "diagnose", "level_forces", "pearson", "rms", "rms_ratio_db", "measure", "remedy_score",
           "paired_difference"]
