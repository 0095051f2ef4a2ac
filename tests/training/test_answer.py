import pytest
import torch

from resmix.data.sources import training_pairs
from resmix.training.answer import train_answer


def test_train_answer_learns_its_answer_reproducibly_and_leaves_the_caller_alone(tiny):
    x, y = training_pairs(tiny.data)
    answer = y.roll(1, 0)  # another clip's target: something to learn that is not an input
    exp = tiny.with_(train={"epochs": 12, "lr": 3e-3})
    torch.manual_seed(123)
    state, threads = torch.get_rng_state(), torch.get_num_threads()
    run = train_answer(exp, x, y, answer)
    assert torch.equal(torch.get_rng_state(), state) and torch.get_num_threads() == threads
    assert len(run.losses) == 12 and run.losses[-1] < 0.8 * run.losses[0], run.losses
    assert not run.model.training
    again = train_answer(exp, x, y, answer)
    assert again.losses == run.losses  # same seed, same run
    other = train_answer(exp.with_(train={"seed": 1}), x, y, answer)
    assert other.losses != run.losses


def test_train_answer_names_bad_input(tiny):
    x, y = training_pairs(tiny.data)
    with pytest.raises(ValueError, match=r"answer.*\[n, N\]"):
        train_answer(tiny, x, y, y[:, :-1])
    with pytest.raises(ValueError, match="answer"):
        train_answer(tiny, x, y, y[0])
    with pytest.raises(ValueError, match="not both 0"):
        train_answer(tiny, x, y, y, mse_weight=0, mrstft_weight=0)
