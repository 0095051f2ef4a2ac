"""The key of a run: a stable hash of what makes its numbers, and the file name of its result."""
from __future__ import annotations

import copy
import hashlib
import json
import re
from typing import Any

from resmix._version import NUMERICS, __version__
from resmix.config import Experiment

# How keys were made before 0.4.0: settings added after 0.2.0 were left out at their defaults, so
# the results stored by 0.2.x and 0.3.x sit under such keys (the store checks a file against its key).
_LEGACY_DEFAULTS = {("model", "output_scale"): 1.0, ("loss", "corr_axes"): "clip", ("train", "decay"): "all"}


# The revision a 0.4.0 result was made with when its meta does not say: results began recording it
# (``meta["numerics"]``) at revision 2, and a 0.4.0 file from before revision 2 is rightly retrained.
UNRECORDED_NUMERICS = 2



def _release(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version)[:3])


def settings_key(settings: dict[str, Any], version: str = __version__, numerics: int = NUMERICS) -> str:
    """The key of an experiment's settings (``Experiment.to_dict()``) under the package ``version``
    and the revision ``numerics`` of its arithmetic (part of the key from 0.4.0 on).

    :func:`run_key` is this for the running version; the store recomputes it from a stored file,
    with the version and revision that wrote it, to check that the file sits under its own key.
    """
    settings = copy.deepcopy(settings)
    settings.pop("name", None)
    if _release(version) < (0, 4, 0):
        for (section, name), default in _LEGACY_DEFAULTS.items():
            if name in settings.get(section, {}) and settings[section][name] == default:
                del settings[section][name]
    settings["resmix_version"] = version
    if _release(version) >= (0, 4, 0):
        settings["numerics"] = numerics
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
