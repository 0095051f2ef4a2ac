import dataclasses

import pytest

from resmix import criteria
from resmix.criteria import COLLAPSE, REMEDY, STATS
from resmix.measure import readout


def test_criteria_are_frozen_and_hold_the_registered_values():
    with pytest.raises(dataclasses.FrozenInstanceError):
        COLLAPSE.quiet_db = -10.0
    assert (COLLAPSE.quiet_db, COLLAPSE.max_abs_corr) == (-20.0, 0.05)
    assert (REMEDY.level_band_db, REMEDY.lag_window_seconds, REMEDY.swap_floor) == (6.0, 0.01, 0.25)
    assert (STATS.min_seeds, STATS.min_data_seeds, STATS.confidence) == (5, 2, 0.95)


def test_the_measured_lag_window_is_the_registered_one():
    assert readout.MAX_LAG_SECONDS == criteria.LAG_WINDOW_SECONDS == REMEDY.lag_window_seconds
    assert readout.max_lag_samples(8000) == 80


def test_collapse_reads():
    assert COLLAPSE.collapsed(-25.0, 0.01) and not COLLAPSE.collapsed(-25.0, 0.2)
    assert not COLLAPSE.collapsed(-19.0, 0.0) and COLLAPSE.quiet(-0.5) and not COLLAPSE.quiet(0.5)


def test_every_threshold_has_a_reason():
    """Each field is preceded by or carries a comment in the source: no bare numbers."""
    import inspect
    src = inspect.getsource(criteria)
    for cls in (criteria.CollapseCriteria, criteria.RemedyCriteria, criteria.StatsCriteria,
                criteria.VerdictRules, criteria.DynamicsCriteria, criteria.SilenceCriteria,
                criteria.ConstancyCriteria, criteria.HorizonCriteria):
        lines = inspect.getsource(cls).splitlines()
        for f in dataclasses.fields(cls):
            i = next(i for i, line in enumerate(lines) if line.strip().startswith(f"{f.name}:"))
            assert "#" in lines[i] or lines[i - 1].strip().startswith("#"), f"{cls.__name__}.{f.name} has no reason"
    assert "PRE-REGISTERED" in src


def test_the_second_registration():
    v2 = criteria.REMEDY_V2
    assert (v2.version, v2.spectral_measure, v2.copy_chance) == (2, "envelope", "surrogates")
    assert (v2.level_band_db, v2.swap_floor, v2.lag_excess_limit, v2.spectral_margin_db) == \
        (REMEDY.level_band_db, REMEDY.swap_floor, REMEDY.lag_excess_limit, REMEDY.spectral_margin_db)
    assert criteria.CONSTANCY.near_constant(0.5) and not criteria.CONSTANCY.near_constant(0.49)
    assert criteria.HORIZON.same_product_db == 2.0


def test_verdict_rules_and_dynamics_band():
    assert criteria.VERDICT_RULES.min_share == 0.8
    d = criteria.DYNAMICS
    assert d.holds(1.0, 1.0) and d.holds(0.5, 1.0) and d.holds(2.0, 1.0)
    assert not d.holds(0.49, 1.0) and not d.holds(2.1, 1.0)
