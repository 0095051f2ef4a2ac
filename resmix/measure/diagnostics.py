"""Leak diagnostics for any model ``model(input, target) -> output`` on ``[B, D, T]`` tensors.

The zero-weights test generalises the seed's "output with zero learning": with every
parameter set to zero, whatever the model still outputs comes through parameter-free
paths (residual shortcuts). The leak probe then says what that output is made of.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn

from resmix.config import ModelConfig
from resmix.models.two_stage import TwoStageModel

from .metrics import leak_probe, level_report, rms, rms_ratio_db
from .readout import _final, measure


@torch.no_grad()
def zero_weights_output(model: nn.Module, input: Tensor, target: Tensor) -> Tensor:
    """The output of a copy of ``model`` with every parameter zeroed: ``[B, D, T]``."""
    zeroed = copy.deepcopy(model).eval()
    for p in zeroed.parameters():
        p.zero_()
    return _final(zeroed(input, target))


@dataclass
class Diagnosis:
    """What :func:`diagnose` measured (batch means)."""

    rms_ratio_db: float  # output level relative to the target
    corr_target: float
    corr_input: float
    probe: dict[str, float]  # leak probe of the trained output: a, b, c, r2
    zero_probe: dict[str, float]  # leak probe of the zero-weights output
    residual_share: float  # rms(zero-weights output) / rms(output): the parameter-free part's level
    report: str  # the seed-style level meter and correlation lines
    measured: dict[str, float]  # every key of resmix.measure.readout.measure: common share, swaps, lags...

    @property
    def leaks(self) -> bool:
        """True when the zero-weights output is a near-exact mix of input and target (R^2 > 0.99)."""
        return self.zero_probe["r2"] > 0.99

    @property
    def ignores_inputs(self) -> bool:
        """True when one waveform shared by every clip carries over 90% of the output's power."""
        return self.measured["common_share"] > 0.9


@torch.no_grad()
def diagnose(model: nn.Module | Callable, input: Tensor, target: Tensor, sample_rate: int = 8000) -> Diagnosis:
    """Run the zero-weights test, the leak probe, the meters and :func:`~resmix.measure.readout.measure`.

    Shape: input, target ``[B, D, T]`` with ``B >= 2``; ``model(input, target)`` returns
    ``[B, D, T]`` or a tuple whose last item is. ``sample_rate`` sets the +-10 ms lag window.
    """
    is_module = isinstance(model, nn.Module)
    was_training = is_module and model.training
    if is_module:
        model.eval()
    out = _final(model(input, target)).float()
    m = measure(model, input, target, sample_rate, output=out)
    if is_module:
        model.train(was_training)
    # a plain callable has no parameters to zero: nothing is left of it but its shortcuts, if any
    zero = zero_weights_output(model, input, target).float() if is_module else torch.zeros_like(out)
    zero_probe = (leak_probe(zero, input, target).means() if float(zero.abs().max()) > 0
                  else {"a": 0.0, "b": 0.0, "c": 0.0, "r2": 0.0})
    return Diagnosis(
        rms_ratio_db=m["rms_ratio_db"], corr_target=m["corr_target"], corr_input=m["corr_input"],
        probe={k: m[f"probe_{k}"] for k in ("a", "b", "c", "r2")}, zero_probe=zero_probe,
        residual_share=float(rms(zero).mean() / rms(out).mean().clamp_min(1e-12)),
        report=level_report(out, input, target), measured=m)


@torch.no_grad()
def untrained_level_db(cfg: ModelConfig, input: Tensor, target: Tensor, seed: int = 0) -> float:
    """Level (dB, relative to the target) of an untrained :class:`TwoStageModel` built with ``seed``.

    Shape: input, target ``[B, D, T]``. With :func:`output_gain_for` it sets where a run starts.
    """
    torch.manual_seed(seed)
    return float(rms_ratio_db(TwoStageModel(cfg)(input, target)[1], target).mean())


def output_gain_for(level_db: float, untrained_db: float) -> float:
    """``ModelConfig.output_gain`` that moves an untrained output from ``untrained_db`` to about ``level_db``.

    About: stage 2 also sees stage 1's scaled output, so the level lands within a fraction of a dB.
    """
    return 10 ** ((level_db - untrained_db) / 20)


def output_scale_for(level_db: float, untrained_db: float) -> float:
    """``ModelConfig.output_scale`` (the frozen gain) that moves an untrained output from ``untrained_db`` to ``level_db``.

    The same factor as :func:`output_gain_for`, but applied by a constant outside the trainable
    weights, so the weights keep PyTorch's initial size and Adam's steps their relative size.
    Exact at initialisation for ``residual="none"`` with ``input_scale="rms"`` (stage 2 sees
    stage 1's output at unit RMS, so only stage 2's own factor reaches the output); with the
    leaky residual the parameter-free averages are not scaled and the level moves less.
    """
    return 10 ** ((level_db - untrained_db) / 20)


@dataclass
class Decomposition:
    """An output split into what is a mix of the inputs, what every clip shares, and the rest.

    ``out = (a*input + b*target + c) + common + specific`` per clip, where the first part is the
    leak probe's fit, ``common`` the across-clip mean of what the fit leaves and ``specific``
    the remainder. Shares are fractions of the output's power (they add to 1 up to the small
    cross terms between the parts).
    """

    a: float  # the probe's input weight (batch mean); the leaky residual alone gives 1/2
    b: float  # the probe's target weight
    mix_share: float  # power in a*input + b*target + c
    common_share: float  # power in the waveform every clip shares (input-independent)
    specific_share: float  # power in the clip-specific remainder


@torch.no_grad()
def decompose(output: Tensor, input: Tensor, target: Tensor) -> Decomposition:
    """Split ``output`` as :class:`Decomposition` says. Shape: each ``[B, ...]`` with ``B >= 2``."""
    o, x, y = (t.reshape(t.shape[0], -1).double() for t in (output, input, target))  # (B, M)
    probe = leak_probe(o, x, y)
    mix = probe.a.double()[:, None] * x + probe.b.double()[:, None] * y + probe.c.double()[:, None]
    rest = o - mix
    common = rest.mean(0, keepdim=True).expand_as(rest)
    total = o.pow(2).sum()
    share = lambda part: float(part.pow(2).sum() / total)  # noqa: E731
    return Decomposition(float(probe.a.mean()), float(probe.b.mean()), share(mix), share(common),
                         share(rest - common))


@dataclass
class LevelForces:
    """What pulls a model's output level, read from the model, held-out clips and its training settings."""

    eps_ratio: float  # eps / mean(s_o s_t) at the output's current level (losses.epsilon_pull)
    eps_pull: float  # mean eps / (s + eps): the share of the penalty's log-gradient that shrinking removes
    offset_share: float  # 1 - std^2 / RMS^2 of the output: the constant offset's share of its power
    layernorm_gain_rms: float  # RMS of every LayerNorm's gain (1 at PyTorch's initialisation)
    decay_time_constants: float  # lr * weight_decay * steps: how many of AdamW's 1/(lr wd) have elapsed
    decays_norms: bool  # weight decay reaches the LayerNorm gains (AdamW's default: every parameter)
    road: str  # "epsilon", "decay", "both" or "neither": which force is acting
    reading: str  # one sentence saying so

    def as_dict(self) -> dict[str, float | str | bool]:
        return dict(self.__dict__)


#: LayerNorm gains start at 1; below this RMS, decay has visibly acted on them (half of e^0, between the
#: decay road's measured 0.10 and an untrained 1.0: chosen after seeing those two, exploratory)
DECAYED_GAIN_RMS = 0.5


def level_forces(model: nn.Module | Callable, input: Tensor, target: Tensor, loss, train, steps: int) -> LevelForces:
    """Which road a model's output is on: the epsilon pull, weight decay, both, or neither.

    Args:
        model: ``model(input, target)`` returns ``[B, D, T]`` or a tuple whose last item is; its
            ``nn.LayerNorm`` modules are found by type (any model, not only the study's).
        input, target: held-out clips ``[B, D, T]``.
        loss: a :class:`~resmix.config.LossConfig` (its ``eps`` and ``corr_axes``).
        train: a :class:`~resmix.config.TrainConfig` (``lr``, ``weight_decay``, ``decay``), or anything with them.
        steps: optimizer steps taken so far.

    The thresholds are the chapters': the epsilon road acts where the pull is at least one half
    (``eps >= s``); the decay road where ``lr * wd * steps >= 1`` with the decay on the LayerNorm gains
    *and* the model's LayerNorm gains measured below ``DECAYED_GAIN_RMS`` (so a configuration whose
    decay has had its time but whose gains were held up by the gradients, or a model that was not
    trained with this configuration, is not put on the decay road by its settings alone). Models
    without LayerNorm are judged on the settings.
    """
    from resmix.losses.objective import LossTable, epsilon_pull

    from .readout import final_output
    with torch.no_grad():
        out = final_output(model(input, target)).float()
    ratio, pull = epsilon_pull(out[None], target[None].float(), LossTable.of([loss], out.device))
    wave = out.reshape(out.shape[0], -1)
    offset = float((1 - wave.var(-1, unbiased=False) / wave.pow(2).mean(-1).clamp_min(1e-30)).mean())
    gains = [m.weight for m in model.modules() if isinstance(m, nn.LayerNorm) and m.weight is not None] \
        if isinstance(model, nn.Module) else []
    ln = float(torch.cat([g.detach().flatten() for g in gains]).pow(2).mean().sqrt()) if gains else float("nan")
    tc = train.lr * train.weight_decay * steps
    norms = getattr(train, "decay", "all") == "all" and train.weight_decay > 0
    shrunk = ln < DECAYED_GAIN_RMS if gains else True
    eps_acts, decay_acts = float(pull[0]) >= 0.5, tc >= 1 and norms and shrunk
    road = {(True, True): "both", (True, False): "epsilon", (False, True): "decay", (False, False): "neither"}[eps_acts, decay_acts]
    reading = {
        "epsilon": f"the epsilon pull acts (eps is {float(ratio[0]):.3g} times s_o s_t): shrinking lowers the penalty",
        "decay": f"weight decay acts ({tc:.2g} time constants on every parameter, LayerNorm gains at {ln:.3g})",
        "both": f"both act: eps is {float(ratio[0]):.3g} times s_o s_t, and {tc:.2g} decay time constants have elapsed",
        "neither": f"neither acts: eps is {float(ratio[0]):.2g} times s_o s_t and only {tc:.2g} decay time constants have "
                   "elapsed; a scale-invariant penalty leaves the level to Adam, which tends to grow it"}[road]
    return LevelForces(float(ratio[0]), float(pull[0]), offset, ln, tc, norms, road, reading)
