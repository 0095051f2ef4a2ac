"""The fourth registration: a remedy score that can say yes, validated on a real answer and a trained one.

Registered 2026-12-08 (UTC), in the commit that adds this module (cf98c35), with its
criteria (``REMEDY_V3`` in :mod:`resmix.criteria`), before the real tenor or any trained output was
scored with version 3, and before the trained control below was trained.

A score is useful only if an output that succeeds can pass it. Version 2 of the remedy score
(the second registration) fails every trained run of the book, its registered positive control among
them, and fails the chorales' tenor, a real answer to soprano and bass (its spectral test: the
tenor's envelope is 0.45 dB closer to its own bass than to other clips' basses, against a 1 dB
margin). Its spectral test asks for *the target's* spectrum, and a voice in another register does
not have it. Version 3 keeps version 2's level, input-dependence and no-copy tests and asks instead
whether the output's pitch classes fit *its own clip's music* (input and target) better than the
other clips' (:func:`resmix.measure.metrics.chroma`; a permutation test at ``harmony_alpha`` 0.01 with
a gain of at least ``harmony_margin`` 0.15, set from white noise and the phase-randomised target only).

**Validation** (:func:`can_say_yes`), on the chorales' held-out clips of the first data seed:

1. **the real tenor** must pass all four tests of version 3;
2. **a trained answer** (:func:`answer_config`, :func:`resmix.training.answer.train_answer`): the fixed
   design given soprano and bass, trained by reconstruction alone (waveform MSE + MR-STFT, weight 1
   each) to output the tenor, at ``ANSWER_STEPS_FACTOR`` times the profile's steps (1,536 on quick),
   AdamW at the book's lr 1e-3 and wd 0.01, model seeds ``ANSWER_SEEDS``. A run *learned the answer*
   when its output is closer in spectrum to its own clip's tenor than to the other clips' tenors by at
   least ``REMEDY.spectral_margin_db`` (version 1's log-spectral test, with the tenor as its reference:
   a measure independent of version 3's). The score **can say yes** when the tenor passes and at least
   ``ANSWER_MIN_PASS`` of the runs that learned the answer pass all four tests; **cannot say** when
   fewer than that learned it; otherwise **no**.
3. every negative control of ``resmix.measure.score.CONTROLS`` still fails the test meant to catch
   it under version 3, and the positive one passes (``sanity_problems`` empty), on each source.

Versions 1 and 2 are reported beside it on the same outputs, so the old results stay in view. Not
registered: the chapters' trained runs scored with version 3 (reported, descriptive).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor

from resmix._io import atomic_path, set_aside
from resmix.config import Experiment, resolve_device
from resmix.criteria import REMEDY
from resmix.measure.metrics import log_spectral_distance
from resmix.measure.score import RemedyScore, _shifted_mean
from resmix.models.two_stage import TwoStageModel
from resmix.study.keys import run_key
from resmix.training.answer import AnswerRun, train_answer

from .first import DATA_SEEDS

ANSWER_SOURCE = "chorales"
ANSWER_SEEDS = (0, 1, 2)  # model seeds of the trained answer, at the first data seed
ANSWER_STEPS_FACTOR = 2  # twice the profile's steps: 1,536 on quick, about a minute a run on one CPU thread
ANSWER_WEIGHTS = {"mse_weight": 1.0, "mrstft_weight": 1.0}  # reconstruction alone: the waveform and its spectrum
ANSWER_MIN_PASS = 2  # of the three runs: a majority


def answer_config(exp: Experiment, seed: int) -> Experiment:
    """The trained answer's run: ``exp`` on the chorales at the first data seed, the fixed design,
    ``ANSWER_STEPS_FACTOR`` times its epochs, model seed ``seed``."""
    return exp.with_(name=f"trained answer (tenor) | seed {seed}",
                     data={"source": ANSWER_SOURCE, "seed": DATA_SEEDS[0]}, model={"residual": "none"},
                     train={"epochs": exp.train.epochs * ANSWER_STEPS_FACTOR, "seed": seed})


def trained_answer(exp: Experiment, seed: int, input: Tensor, target: Tensor, answer: Tensor,
                   root: str | os.PathLike, kind: str = "tenor") -> AnswerRun:
    """The registered trained answer of model seed ``seed`` (:func:`answer_config`, ``ANSWER_WEIGHTS``), trained
    on the given training pairs and tenor, or loaded from ``root/answer/<run key>.pt`` where an earlier call
    stored it from the same clips (``kind`` names the answer, ``"tenor"`` for the registered run; a damaged or foreign file, or one trained on other clips, is set aside
    and the run trained again; the file records the torch and device that trained it). Shape: ``[n_train, N]``."""
    e = answer_config(exp, seed)
    if not kind.isidentifier():
        raise ValueError(f"kind names the answer in a file name: a plain word; got {kind!r}")
    path = Path(root) / "answer" / f"{kind}-{run_key(e)}.pt"
    data = _digest(input, target, answer)
    if path.exists():
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            if saved.get("key") != run_key(e) or saved.get("weights") != ANSWER_WEIGHTS:
                raise ValueError("it holds another run")
            if saved.get("data") != data:
                raise ValueError("it was trained on other clips")
            model = TwoStageModel(e.model)
            model.load_state_dict(saved["state"])
            return AnswerRun(model.eval(), list(saved["losses"]))
        except Exception as error:  # noqa: BLE001  (any damage: set it aside, train again)
            set_aside(path, f"not a trained answer of {e.name!r}: {type(error).__name__}: {error}")
    run = train_answer(e, input, target, answer, **ANSWER_WEIGHTS)
    with atomic_path(path) as tmp:
        torch.save({"key": run_key(e), "weights": ANSWER_WEIGHTS, "data": data, "state": run.model.state_dict(),
                    "losses": run.losses, "made_by": {"torch": str(torch.__version__), "device": str(resolve_device(e.train.device))}}, tmp)
    return run


def _digest(*tensors: Tensor) -> str:
    """A digest of the clips a trained answer was trained on (their shapes and float32 bytes)."""
    h = hashlib.sha1()
    for t in tensors:
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def learned_gain(output: Tensor, answer: Tensor) -> float:
    """How much closer in spectrum each output clip is to its own answer than to the other clips' answers:
    ``mean_b (mean_{c != b} LSD(out_b, a_c) - LSD(out_b, a_b))`` in dB (version 1's spectral test, the answer
    as reference). Shape: waveforms ``[B, N]``."""
    own = log_spectral_distance(output, answer)
    return float((_shifted_mean(log_spectral_distance, output, answer) - own).mean())


def learned(output: Tensor, answer: Tensor) -> bool:
    """A run learned the answer: :func:`learned_gain` at least ``REMEDY.spectral_margin_db``."""
    return learned_gain(output, answer) >= REMEDY.spectral_margin_db


@dataclass(frozen=True)
class Validation:
    """:func:`can_say_yes`'s reading and what it rests on."""

    reading: str  # "yes", "no" or "cannot say"
    tenor_passes: bool
    learned: int  # trained runs that learned the answer
    learned_and_passed: int  # ... of which passed all four tests
    n: int  # trained runs


def can_say_yes(tenor: RemedyScore, trained: Sequence[RemedyScore], learned_flags: Sequence[bool]) -> Validation:
    """The registered reading (module docstring, item 1 and 2): version 3 can say yes, no, or cannot say."""
    if len(trained) != len(learned_flags):
        raise ValueError(f"one learned flag per trained run; got {len(learned_flags)} for {len(trained)}")
    n_learned = sum(map(bool, learned_flags))
    passed = sum(s.passed for s, ok in zip(trained, learned_flags) if ok)
    if n_learned < ANSWER_MIN_PASS:
        reading = "cannot say"
    else:
        reading = "yes" if tenor.passed and passed >= ANSWER_MIN_PASS else "no"
    return Validation(reading, tenor.passed, n_learned, passed, len(trained))


__all__ = ["ANSWER_SOURCE", "ANSWER_SEEDS", "ANSWER_STEPS_FACTOR", "ANSWER_WEIGHTS", "ANSWER_MIN_PASS",
           "answer_config", "trained_answer", "learned_gain", "learned", "Validation", "can_say_yes"]
