"""The registrations: each a set of configurations and verdict rules, written and committed before its runs.

- :mod:`~resmix.registrations.first` (2026-11-26): the collapse (C7) and the remedy (C8) as the seed states them;
- :mod:`~resmix.registrations.second` (2026-12-01): the collapse re-founded on PyTorch's own start, its two
  roads (epsilon and decay), the seed's horizon, and C8 with a trained positive control;
- :mod:`~resmix.registrations.third` (2026-12-07): four fixes on each road and at the note's setting, and
  the note's own horizon (lr * wd * t = 1);
- :mod:`~resmix.registrations.fourth` (2026-12-08): a remedy score that can say yes (version 3), validated on
  the chorales' real tenor and on a model trained to give it.

The thresholds they use are :mod:`resmix.criteria`, fixed in code before the runs they judge.
Imports from: every layer below (the foundation, data, models, losses, measure, training, study).
"""
from . import first, second, third, fourth

__all__ = ["first", "second", "third", "fourth"]
