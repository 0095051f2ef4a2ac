"""The key of a run: a stable hash of what makes its numbers, and the file name of its result."""
from __future__ import annotations

import copy
import hashlib
import json
import re
from typing import Any

from resmix._version import __version__
from resmix.config import Experiment

# How keys were made before 0.4.0: settings added after 0.2.0 were left out at their defaults, so
# the results stored by 0.2.x and 0.3.x sit under such keys (the store checks a file against its key).
_LEGACY_DEFAULTS = {("model", "output_scale"): 1.0, ("loss", "corr_axes"): "clip", ("train", "decay"): "all"}


# The revision of the package's arithmetic within a version: bumped when a change of code changes a
# run's digits (2: attention written out instead of torch's SDPA kernel, 0.4.0). What the machine
# contributes (device, MKL's code path) is recorded in each result's provenance instead.
NUMERICS = 2


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version)[:3])


def settings_key(settings: dict[str, Any], version: str = __version__) -> str:
    """The key of an experiment's settings (``Experiment.to_dict()``) under the package ``version``.

    :func:`run_key` is this for the running version; the store recomputes it from a stored file,
    with the version that wrote it, to check that the file sits under its own key.
    """
    settings = copy.deepcopy(settings)
    settings.pop("name", None)
    if _release(version) < (0, 4, 0):
        for (section, name), default in _LEGACY_DEFAULTS.items():
            if name in settings.get(section, {}) and settings[section][name] == default:
                del settings[section][name]
    settings["resmix_version"] = version
    if _release(version) >= (0, 4, 0):
        settings["numerics"] = NUMERICS
    source = settings.get("data", {}).get("source", "synthetic")
    if source != "synthetic":
        from resmix.data.recordings import VERSIONS
        settings["corpus_version"] = VERSIONS.get(source)
    return hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def run_key(exp: Experiment) -> str:
    """A stable hash of what makes a run's numbers: the file name of its result.

    It covers every setting, the package version, the revision of its arithmetic (``NUMERICS``)
    and, for a real corpus, the version of its rendering (:data:`resmix.data.recordings.VERSIONS`),
    and not the display name: two grids that reach
    the same settings share one run, and a new release of ``resmix`` trains afresh.
    """
    return settings_key(exp.to_dict(), __version__)
