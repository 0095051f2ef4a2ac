"""resmix.study.runner: a cohort against a results folder: claimed, trained together, stored one by one."""
import shutil
import threading
import time

import pytest

from resmix.study import runner
from resmix.study.keys import run_key
from resmix.study.store import claim
from resmix.training.history import NonFiniteLossError


def _numbers(h):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in h.records]


def test_a_cohort_stores_each_member_and_a_rerun_trains_nothing(tiny, tmp_path, monkeypatch):
    exps = [tiny.with_(train={"seed": s, "epochs": 1 + s}) for s in range(3)]
    first = runner.run_cohort(exps, tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.json")) == sorted(f"{run_key(e)}.json" for e in exps)
    assert not list((tmp_path / "ckpt").glob("*"))
    monkeypatch.setattr(runner, "train_cohort", lambda *a, **k: pytest.fail("trained a stored run"))
    again = runner.run_cohort(exps, tmp_path)
    assert [_numbers(h) for h in again] == [_numbers(h) for h in first]
    assert [len(h.records) for h in again] == [1, 2, 3]


def test_a_member_claimed_elsewhere_is_waited_for_and_loaded(tiny, tmp_path, monkeypatch):
    exps = [tiny.with_(train={"seed": s, "epochs": 1}) for s in range(2)]
    done = runner.run_cohort(exps[1:], tmp_path / "done")
    key, shared = run_key(exps[1]), tmp_path / "shared"
    shared.mkdir()
    claimed, trained = threading.Event(), []

    def owner():  # another process training exps[1]: it stores the result, then lets go
        with claim(shared, key):
            claimed.set()
            time.sleep(0.5)
            for name in (f"{key}.json", f"{key}.model.pt"):
                shutil.copy(tmp_path / "done" / name, shared / name)
    t = threading.Thread(target=owner)
    t.start()
    claimed.wait()
    real = runner.train_cohort
    monkeypatch.setattr(runner, "train_cohort", lambda es, **k: trained.append([e.train.seed for e in es]) or real(es, **k))
    out = runner.run_cohort(exps, shared)
    t.join()
    assert trained == [[0]]  # only the unclaimed member trained here
    assert _numbers(out[1]) == _numbers(done[0])


def test_a_diverged_member_is_named_after_the_others_are_stored(tiny, tmp_path):
    bad = tiny.with_(name="bad", model={"residual": "none", "zero_init_output": True}, loss={"eps": 0.0})
    good = tiny.with_(name="good", train={"epochs": 1})
    with pytest.raises(NonFiniteLossError, match=r"'bad': epoch 1, step 1: loss term 'anti_correlation'"):
        runner.run_cohort([bad, good], tmp_path)
    assert (tmp_path / f"{run_key(good)}.json").exists() and not (tmp_path / f"{run_key(bad)}.json").exists()
