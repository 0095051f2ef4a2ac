"""What the chapters read from groups of runs: levels, drifts, the epsilon ratio, the offset share.

Every table of levels in the book comes from :func:`level_table`, so each shows the same columns:
the level re the target at the start, at the seed's epoch 21 and at the end; the final level in the
trainable network's own units (the frozen output gain removed); the drift training produced
(end minus epoch 1, paired, with its interval); the epsilon ratio ``eps / (s_o s_t)`` at epoch 1 and
at the end; and the offset share with the number of near-constant runs.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from resmix.criteria import COLLAPSE, CONSTANCY, STATS
from resmix.measure.stats import PairedDifference, paired_difference, values_by_seeds
from resmix.registrations.second import own_units_db


def _mean(hs: Sequence[Any], key: str, epoch: int = -1) -> float:
    return float(np.mean([h.records[min(epoch, len(h.records) - 1) if epoch >= 0 else epoch][key] for h in hs]))


def drift(hs: Sequence[Any], method: str = STATS.method) -> PairedDifference:
    """Each run's final level minus its level after epoch 1, paired: what training did, the start removed.
    One run: its own difference (no interval). ``method``: the bootstrap's (``"percentile"`` for a
    handful of pairs, where BCa's correction is not defined well)."""
    end, first = values_by_seeds(hs, "val_rms_ratio_db"), values_by_seeds(hs, "val_rms_ratio_db", epoch=0)
    if len(end) == 1:
        d = next(iter(end.values())) - next(iter(first.values()))
        return PairedDifference(d, d, d, 1, STATS.confidence)
    return paired_difference(end, first, method=method)


def level_row(hs: Sequence[Any], epoch21: int = 21) -> dict[str, Any]:
    """One configuration's row of :func:`level_table`."""
    d = drift(hs)
    return {"runs": len(hs),
            "after epoch 1 (dB)": _mean(hs, "val_rms_ratio_db", 0),
            f"at epoch {epoch21} (dB)": _mean(hs, "val_rms_ratio_db", epoch21 - 1),
            "at the end (dB)": _mean(hs, "val_rms_ratio_db"),
            "at the end, own units (dB)": float(np.mean([own_units_db(h) for h in hs])),
            "drift (dB)": d.mean, "drift 95% CI": f"[{d.low:+.1f}, {d.high:+.1f}]" if d.n > 1 else "-",
            "ε ratio, epoch 1": _mean(hs, "val_eps_ratio", 0), "ε ratio, end": _mean(hs, "val_eps_ratio"),
            "offset share, end": _mean(hs, "val_offset_share"),
            "near-constant runs": sum(CONSTANCY.near_constant(h.last["val_offset_share"]) for h in hs),
            "collapsed runs": sum(COLLAPSE.collapsed(h.last["val_rms_ratio_db"], h.last["val_corr_target"]) for h in hs),
            "common share, end": _mean(hs, "val_common_share")}


def level_table(groups: Mapping[str, Sequence[Any]], epoch21: int = 21):
    """A pandas table, one row per configuration (:func:`level_row`); numbers rounded for reading."""
    import pandas as pd
    t = pd.DataFrame({name: level_row(hs, epoch21) for name, hs in groups.items()}).T
    t.index.name = "configuration"
    for col in t.columns:
        if col.endswith("(dB)"):
            t[col] = t[col].astype(float).round(1)
        elif col.startswith(("ε ratio", "offset", "common")):
            t[col] = t[col].astype(float).map(lambda v: float(f"{v:.3g}") if math.isfinite(v) else v)
    return t
