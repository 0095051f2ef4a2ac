"""resmix.study.schedule: grids grouped into cohorts by shape, within a cap, balanced over workers."""
import pytest

from resmix.config import quick
from resmix.study.schedule import cohort_cap, member_bytes, plan_cohorts, steps


def test_runs_of_one_shape_share_cohorts_and_other_shapes_do_not(tiny):
    exps = [tiny.with_(train={"seed": s}) for s in range(6)] + [tiny.with_(model={"d_model": 32}, train={"seed": s})
                                                                 for s in range(2)]
    plan = plan_cohorts(exps, workers=1, cap=64)
    assert sorted(map(sorted, plan)) == [[0, 1, 2, 3, 4, 5], [6, 7]]
    assert sorted(i for c in plan for i in c) == list(range(8))


def test_every_worker_gets_a_cohort_the_cap_holds_and_the_work_is_balanced(tiny):
    exps = [tiny.with_(train={"epochs": e, "seed": s}) for s, e in enumerate([8, 8, 4, 4, 4, 4, 2, 2])]
    plan = plan_cohorts(exps, workers=2, cap=64)
    work = sorted(sum(steps(exps[i]) for i in c) for c in plan)
    assert len(plan) == 2 and work[0] == work[1]  # 18 epochs each
    capped = plan_cohorts(exps, workers=1, cap=3)
    assert len(capped) == 3 and max(map(len, capped)) <= 3
    assert plan_cohorts(exps[:1], workers=4, cap=64) == [[0]]
    with pytest.raises(ValueError, match="workers must be >= 1"):
        plan_cohorts(exps, workers=0)


def test_the_memory_cap_follows_the_model_size():
    q = quick()
    wide = q.with_(model={"d_model": 256, "n_heads": 8})
    assert member_bytes(wide) > 4 * member_bytes(q)
    assert cohort_cap(q, memory=8 << 30) > cohort_cap(wide, memory=8 << 30) >= 1
    assert cohort_cap(q, workers=2, memory=8 << 30) <= cohort_cap(q, memory=8 << 30)
    assert cohort_cap(q, memory=1) == 1 and cohort_cap(q, memory=1 << 50) == 256
