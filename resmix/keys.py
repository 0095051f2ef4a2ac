"""The key of a run: a stable hash of what makes its numbers, and the file name of its result."""
from __future__ import annotations

import hashlib
import json
from typing import Any

from .config import Experiment
from ._version import __version__

# Settings added after 0.2.0 (whose run keys the chapters store): a run at their default is
# the same computation as before they existed, so its key leaves them out and stays the same.
KEYED_ONLY_WHEN_SET = (("model", "output_scale"), ("loss", "corr_axes"), ("train", "decay"))


def _default(section: str, name: str) -> Any:
    return getattr(getattr(Experiment(), section), name)


def run_key(exp: Experiment) -> str:
    """A stable hash of what makes a run's numbers: the file name of its result.

    It covers every setting and the package version, and not the display name: two grids
    that reach the same settings share one run, and a new release of ``resmix`` trains afresh.
    """
    settings = exp.to_dict()
    settings.pop("name")
    for section, name in KEYED_ONLY_WHEN_SET:  # at their defaults they change nothing: old keys hold
        if settings[section][name] == _default(section, name):
            del settings[section][name]
    settings["resmix_version"] = __version__
    return hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
