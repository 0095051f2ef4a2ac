"""What a training run leaves: its per-epoch records with config and provenance, and its failure.

:class:`History` is what :func:`resmix.training.single.train` returns and what :mod:`resmix.study` stores
as JSON; :func:`provenance` is what every stored result records about the machine.
"""
from __future__ import annotations

import platform
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from resmix._mkl import matmul_path
from resmix._version import NUMERICS, __version__
from resmix.config import Experiment, resolve_device  # noqa: F401 (resolve_device: also this module's API)

ENGINE = "cohort-1"  # the training engine's version, in every result's provenance


class NonFiniteLossError(FloatingPointError):
    """A loss term became NaN or infinite; the message names the epoch, step and term."""


@dataclass
class History:
    """Per-epoch records of one run, with the config and provenance that made them.

    ``records[i]`` is a flat dict of floats for epoch ``i + 1`` (keys such as ``epoch``,
    ``step`` (optimizer steps so far), ``val_rms_output``, ``val_common_share``,
    ``train_total``, ``weight_rms_output``). ``model`` is the trained model (not serialised).
    """

    experiment: Experiment
    records: list[dict[str, float]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    model: nn.Module | None = field(default=None, repr=False, compare=False)

    def series(self, key: str) -> list[float]:
        """One metric over epochs."""
        if self.records and key not in self.records[0]:
            raise KeyError(f"no metric {key!r}; known: {sorted(self.records[0])}")
        return [r[key] for r in self.records]

    @property
    def last(self) -> dict[str, float]:
        return self.records[-1]

    def to_dict(self) -> dict[str, Any]:
        return {"experiment": self.experiment.to_dict(), "records": self.records, "meta": self.meta}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "History":
        return cls(Experiment.from_dict(d["experiment"]), d["records"], d["meta"])

    @property
    def steps_per_epoch(self) -> int:
        """Optimizer steps in one epoch (one pass over the training pairs)."""
        return round(self.records[0]["step"] / self.records[0]["epoch"]) if self.records else 0


def provenance(device: torch.device) -> dict[str, Any]:
    """Device, library versions and training engine, stored beside every result."""
    return {
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine(),
        "torch": torch.__version__, "numpy": np.__version__, "python": sys.version.split()[0],
        "resmix": __version__, "numerics": NUMERICS, "engine": ENGINE, "platform": platform.platform(), "threads": torch.get_num_threads(),
        "cpu_matmul": str(matmul_path()),  # MKL's code path changes a CPU run's last digits (resmix._mkl)
    }
