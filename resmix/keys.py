"""The key of a run: a stable hash of what makes its numbers, and the file name of its result."""
from __future__ import annotations

import hashlib
import json
from .config import Experiment
from ._version import __version__

def run_key(exp: Experiment) -> str:
    """A stable hash of what makes a run's numbers: the file name of its result.

    It covers every setting, the package version and, for a real corpus, the version of its
    rendering (:data:`resmix.recordings.VERSIONS`), and not the display name: two grids that reach
    the same settings share one run, and a new release of ``resmix`` trains afresh.
    """
    settings = exp.to_dict()
    settings.pop("name")
    settings["resmix_version"] = __version__
    if exp.data.source != "synthetic":
        from .recordings import VERSIONS
        settings["corpus_version"] = VERSIONS[exp.data.source]
    return hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
