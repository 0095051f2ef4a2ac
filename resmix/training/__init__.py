"""The training layer: runs trained one at a time or as a cohort, resumable, with their records.

- :mod:`~resmix.training.cohort`: many runs of the same shapes trained as one stacked model, each
  member's numbers those it gets alone; :mod:`~resmix.training.single`: one run, the cohort of one;
- :mod:`~resmix.training.adamw`: AdamW over stacked parameters, each member with its own settings;
- :mod:`~resmix.training.checkpoint`: a member's checkpoint, verified on load;
- :mod:`~resmix.training.history`: what a run leaves (records, config, provenance) and its failure;
- :mod:`~resmix.training.answer`: a short seeded loop that teaches the model a real answer by reconstruction
  (the remedy score's trained positive control).

Imports from: the foundation, resmix.data, resmix.models, resmix.losses and resmix.measure.
"""
from .cohort import train_cohort
from .history import History, NonFiniteLossError, provenance
from .single import evaluate, train

__all__ = ["train_cohort", "History", "NonFiniteLossError", "provenance", "evaluate", "train"]
