"""The key of a run: a stable hash of what makes its numbers, and the file name of its result."""
from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from .config import Experiment
from ._version import __version__

# Settings added after 0.2.0 (whose run keys the chapters store): a run at their default is
# the same computation as before they existed, so its key leaves them out and stays the same.
KEYED_ONLY_WHEN_SET = (("model", "output_scale"), ("loss", "corr_axes"), ("train", "decay"))


def settings_key(settings: dict[str, Any], version: str = __version__) -> str:
    """The key of an experiment's settings (``Experiment.to_dict()``) under a package ``version``.

    :func:`run_key` is this for the running version; the store recomputes it from a stored file
    (with the version that wrote it) to check that the file sits under its own key. Settings of
    :data:`KEYED_ONLY_WHEN_SET` are left out at their defaults, and where absent (older files).
    """
    settings = copy.deepcopy(settings)
    settings.pop("name", None)
    defaults = Experiment()
    for section, name in KEYED_ONLY_WHEN_SET:  # at their defaults they change nothing: old keys hold
        if name in settings.get(section, {}) and settings[section][name] == getattr(getattr(defaults, section), name):
            del settings[section][name]
    settings["resmix_version"] = version
    return hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def run_key(exp: Experiment) -> str:
    """A stable hash of what makes a run's numbers: the file name of its result.

    It covers every setting and the package version, and not the display name: two grids
    that reach the same settings share one run, and a new release of ``resmix`` trains afresh.
    """
    return settings_key(exp.to_dict(), __version__)
