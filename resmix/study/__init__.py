"""The study engine: grids of runs keyed, scheduled into cohorts, trained resumably and stored.

- :mod:`~resmix.study.grids`: build a grid, run it (locally, on Ray, or one point per SLURM task), read it back;
- :mod:`~resmix.study.schedule`: which runs train together as a cohort, and how long that takes;
- :mod:`~resmix.study.runner`: a cohort's members claimed, trained and stored against a results folder;
- :mod:`~resmix.study.keys` and :mod:`~resmix.study.store`: a run's key, and the folder that is the ledger;
- :mod:`~resmix.study.campaigns`: runs too long for CI, stored as records and re-derived in part;
- :mod:`~resmix.study.ray_backend`: cohorts as Ray tasks; :mod:`~resmix.study.cli`: the ``resmix`` command.

Imports from: the foundation, resmix.data, resmix.models, resmix.losses, resmix.measure and resmix.training.
"""
from .grids import grid, group, load_results, run_grid, run_groups, setting, summarise
from .keys import run_key
from .runner import load_model, run_cohort, run_one

__all__ = ["group", "grid", "load_results", "run_grid", "run_groups", "setting", "summarise", "run_key",
           "load_model", "run_cohort", "run_one"]
