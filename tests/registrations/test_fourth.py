import dataclasses

import pytest
import torch

from resmix.config import get_profile
from resmix.measure.score import RemedyScore, TestResult
from resmix.registrations import fourth


def _score(passed: bool) -> RemedyScore:
    t = TestResult(passed, {}, "")
    return RemedyScore(t, t, t, t)


def test_the_trained_answer_is_the_registered_run():
    quick = get_profile("quick")
    e = fourth.answer_config(quick, 2)
    assert e.data.source == "chorales" and e.data.seed == 1234 and e.model.residual == "none"
    assert e.train.epochs * -(-e.data.n_train // e.train.batch_size) == 1536
    assert (e.train.lr, e.train.weight_decay, e.train.decay, e.train.seed) == (1e-3, 0.01, "all", 2)
    assert e.loss == quick.loss  # the trainer uses ANSWER_WEIGHTS only; the penalties are not used
    assert fourth.ANSWER_WEIGHTS == {"mse_weight": 1.0, "mrstft_weight": 1.0} and fourth.ANSWER_SEEDS == (0, 1, 2)


def test_the_reading_on_known_cases():
    yes, no = _score(True), _score(False)
    assert fourth.can_say_yes(yes, [yes, yes, no], [True, True, True]).reading == "yes"
    assert fourth.can_say_yes(no, [yes, yes, yes], [True] * 3).reading == "no"  # the real tenor must pass
    assert fourth.can_say_yes(yes, [yes, no, no], [True] * 3).reading == "no"
    v = fourth.can_say_yes(yes, [yes, yes, yes], [True, False, False])
    assert v.reading == "cannot say" and v.learned == 1  # the control did not succeed: no verdict on the score
    assert fourth.can_say_yes(yes, [no, yes, yes], [False, True, True]).learned_and_passed == 2
    with pytest.raises(ValueError, match="one learned flag per trained run"):
        fourth.can_say_yes(yes, [yes], [True, True])


def test_learned_gain_tells_the_own_answer_from_the_others():
    g = torch.Generator().manual_seed(0)
    t = torch.arange(4096, dtype=torch.float64) / 8000
    f = 200 * 2 ** (torch.arange(8).double()[:, None] / 4)
    answer = torch.sin(2 * torch.pi * f * t).float() + 0.01 * torch.randn(8, 4096, generator=g)
    assert fourth.learned(answer, answer) and fourth.learned_gain(answer, answer) > 10
    assert not fourth.learned(answer.roll(1, 0), answer)
    noise = torch.randn(8, 4096, generator=g)
    assert abs(fourth.learned_gain(noise, answer)) < 1


def test_trained_answer_is_stored_once_and_a_damaged_file_is_set_aside(tiny, tmp_path, monkeypatch):
    from resmix._io import DamagedFileWarning
    from resmix.data.sources import training_pairs
    monkeypatch.setattr(fourth, "answer_config", lambda exp, seed: exp.with_(train={"epochs": 1, "seed": seed}))
    x, y = training_pairs(tiny.data)
    run = fourth.trained_answer(tiny, 0, x, y, y.roll(1, 0), tmp_path)
    (path,) = (tmp_path / "answer").glob("*.pt")
    calls = []
    monkeypatch.setattr(fourth, "train_answer", lambda *a, **k: calls.append(1))
    again = fourth.trained_answer(tiny, 0, x, y, y.roll(1, 0), tmp_path)  # served from the file, not trained
    assert calls == [] and again.losses == run.losses
    for k, v in run.model.state_dict().items():
        assert torch.equal(again.model.state_dict()[k], v), k
    path.write_bytes(b"not a checkpoint")
    monkeypatch.undo()
    monkeypatch.setattr(fourth, "answer_config", lambda exp, seed: exp.with_(train={"epochs": 1, "seed": seed}))
    with pytest.warns(DamagedFileWarning, match="not a trained answer"):
        fresh = fourth.trained_answer(tiny, 0, x, y, y.roll(1, 0), tmp_path)
    assert fresh.losses == run.losses and path.with_name(path.name + ".damaged").exists()


def test_a_trained_answer_stored_from_other_clips_is_not_served(tiny, tmp_path, monkeypatch):
    from resmix._io import DamagedFileWarning
    from resmix.data.sources import training_pairs
    monkeypatch.setattr(fourth, "answer_config", lambda exp, seed: exp.with_(train={"epochs": 1, "seed": seed}))
    x, y = training_pairs(tiny.data)
    fourth.trained_answer(tiny, 0, x, y, y.roll(1, 0), tmp_path)
    (path,) = (tmp_path / "answer").glob("*.pt")
    assert torch.load(path, weights_only=True)["made_by"]["device"] == "cpu"
    with pytest.warns(DamagedFileWarning, match="trained on other clips"):
        fourth.trained_answer(tiny, 0, x, y, y.roll(2, 0), tmp_path)  # same settings, another answer
