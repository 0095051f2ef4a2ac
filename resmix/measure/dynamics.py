"""AdamW's weight-norm equilibrium: the optimizer, the prediction, and the measurement.

Decoupled weight decay (Loshchilov & Hutter 2019, arXiv:1711.05101) updates each coordinate as

    w <- (1 - lr * wd) * w - lr * u,    u = m_hat / (sqrt(v_hat) + eps_adam),

so decay shrinks every decayed coordinate by the factor ``1 - lr*wd`` per step while Adam's
normalised update ``u`` has a magnitude of about 1 whatever the gradient's scale. When the
updates are *uncorrelated with the weight and across steps* (a random walk), squaring gives
``E w'^2 = (1 - lr wd)^2 E w^2 + lr^2 E u^2``, whose fixed point for ``E u^2 = 1`` and
``lr * wd << 1`` is

    rms_eq = sqrt(lr / (2 * wd))        (per coordinate),

reached as ``E w^2(t) = rms_eq^2 + (w0^2 - rms_eq^2) (1 - lr wd)^(2t)``: the weights themselves
relax with time constant ``tau = 1 / (lr * wd)`` steps (their mean square with ``tau / 2``).
Weights above the equilibrium shrink towards it, weights below it grow. The same random-walk
argument gives the equilibrium norm of a scale-invariant layer, whose gradient is orthogonal to
its weight (Wan et al. 2021, arXiv:2006.08419, for SGD; Kosson et al. 2024, arXiv:2305.17212,
for AdamW and others).

Assumptions, and where they fail:

- Adam's momentum correlates ``u`` over about ``1 / (1 - beta1)`` steps, which shrinks each
  update but not the random walk's long-run spread: for random-sign unit gradients the
  prediction still holds once ``tau >> 1 / (1 - beta1)`` (the toy test in
  ``tests/measure/test_dynamics.py`` measures it).
- Gradients of a consistent sign (a loss that keeps pushing one way) drift instead of diffuse:
  the fixed point is then ``|w| = 1 / wd``, far above ``rms_eq``.
- Gradients much smaller than Adam's ``eps`` (1e-8), or zero, give ``u ~ 0``: the weights only
  decay, as ``(1 - lr wd)^t``.
- Gradient clipping rescales the gradient, not ``u``: Adam's normalisation undoes it, except
  through the moment estimates' history.

So the formula is a prediction for the diffusive regime, to be set beside a measurement
(:func:`weight_rms`), not a law.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from resmix.config import TrainConfig
from resmix.criteria import DYNAMICS
from resmix.models.two_stage import TwoStageModel


def equilibrium_rms(lr: float, weight_decay: float) -> float:
    """Predicted per-coordinate weight RMS under AdamW, ``sqrt(lr / (2 * wd))`` (module docstring)."""
    if lr <= 0 or weight_decay <= 0:
        raise ValueError(f"lr and weight_decay must be > 0 for an equilibrium; got lr={lr}, weight_decay={weight_decay}")
    return math.sqrt(lr / (2 * weight_decay))


def time_constant(lr: float, weight_decay: float) -> float:
    """Steps for the weights to relax by a factor e towards equilibrium, ``1 / (lr * wd)``."""
    if lr <= 0 or weight_decay <= 0:
        raise ValueError(f"lr and weight_decay must be > 0; got lr={lr}, weight_decay={weight_decay}")
    return 1.0 / (lr * weight_decay)


def predicted_rms(rms0: float, lr: float, weight_decay: float, steps: Tensor | int,
                  update_rms: float = 1.0) -> Tensor:
    """Predicted weight RMS after ``steps`` from a start of ``rms0``: ``[S] -> [S]`` (or a 0-d tensor).

    ``sqrt(rms_eq^2 + (rms0^2 - rms_eq^2) (1 - lr wd)^(2 t))`` with ``rms_eq = update_rms *
    sqrt(lr / (2 wd))``: the random-walk recursion of the module docstring solved exactly.
    ``update_rms`` is the RMS of Adam's normalised update (1 in the textbook argument;
    :func:`adam_update_rms` measures it). Draw it beside :func:`weight_rms` measured over training.
    """
    t = torch.as_tensor(steps, dtype=torch.float64)
    eq2 = (update_rms * equilibrium_rms(lr, weight_decay)) ** 2
    return (eq2 + (rms0 ** 2 - eq2) * (1 - lr * weight_decay) ** (2 * t)).sqrt()


def decays(name: str, p: nn.Parameter) -> bool:
    """Whether ``decay="weights"`` decays a parameter: weight matrices yes; biases and LayerNorm's vectors no.

    The nanoGPT rule: every parameter of two or more dimensions is a weight matrix.
    """
    return p.ndim >= 2


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """torch's AdamW (or Adam, ``cfg.optimizer="adam"``) over ``model``'s parameters with ``cfg.lr`` and
    ``cfg.weight_decay``, decaying ``cfg.decay``: the optimizer a cohort member steps exactly as.

    ``decay="all"``: one group, every parameter decayed (torch's default; exactly 0.2.0's
    optimizer). ``decay="weights"``: two groups, weight matrices at ``cfg.weight_decay`` and
    biases and LayerNorm parameters at 0.
    """
    if cfg.decay not in ("all", "weights"):
        raise ValueError(f"decay must be 'all' or 'weights'; got {cfg.decay!r}")
    kind = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam}[cfg.optimizer]
    if cfg.decay == "all":
        return kind(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [{"params": [p for n, p in named if decays(n, p)], "weight_decay": cfg.weight_decay},
              {"params": [p for n, p in named if not decays(n, p)], "weight_decay": 0.0}]
    return kind(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)


@dataclass
class WeightRMS:
    """Per-coordinate RMS of a model's parameters, pooled over a group (``sqrt(sum w^2 / count)``)."""

    output: float  # the output projections' weight matrices (names ending in "out.weight")
    matrices: float  # every weight matrix (what decay="weights" decays)
    vectors: float  # biases and LayerNorm parameters (what decay="weights" leaves alone)


def _pooled_rms(params: list[Tensor]) -> float:
    if not params:
        return float("nan")
    total = sum(float(p.detach().double().pow(2).sum()) for p in params)
    return math.sqrt(total / sum(p.numel() for p in params))


@torch.no_grad()
def weight_rms(model: nn.Module) -> WeightRMS:
    """Measure :class:`WeightRMS` of ``model`` (e.g. a :class:`~resmix.models.two_stage.TwoStageModel`).

    Compare ``output`` and ``matrices`` with :func:`equilibrium_rms`; PyTorch's default
    initialisation of a ``Linear(d_in, d_out)`` starts at RMS ``1 / sqrt(3 d_in)``.
    """
    named = list(model.named_parameters())
    return WeightRMS(output=_pooled_rms([p for n, p in named if n.endswith("out.weight")]),
                     matrices=_pooled_rms([p for n, p in named if decays(n, p)]),
                     vectors=_pooled_rms([p for n, p in named if not decays(n, p)]))


@torch.no_grad()
def initial_weight_rms(model_cfg, seed: int) -> WeightRMS:
    """:class:`WeightRMS` of the untrained :class:`~resmix.models.two_stage.TwoStageModel` that a run with ``seed`` starts from."""
    torch.manual_seed(seed)
    return weight_rms(TwoStageModel(model_cfg))


def prediction_rows(histories) -> list[dict]:
    """Measured against predicted weight size, one row per run (a :class:`~resmix.training.history.History`).

    Columns: ``lr``, ``weight_decay``, ``decay``, ``steps``, ``lr_wd_steps`` (time constants
    elapsed), ``rms0`` (the weight matrices' RMS at initialisation), ``predicted`` and
    ``measured`` (their RMS after the last step), ``ratio`` (measured / predicted), ``judged``
    (``lr_wd_steps >= DYNAMICS.min_product``) and ``holds`` (judged and within
    ``DYNAMICS.ratio_band``; ``None`` when not judged). Runs without decay have no prediction.
    """
    rows = []
    for h in histories:
        t, exp = h.experiment.train, h.experiment
        steps = h.last["step"]
        rms0 = initial_weight_rms(exp.model, t.seed).matrices
        pred = float(predicted_rms(rms0, t.lr, t.weight_decay, steps)) if t.weight_decay > 0 else float("nan")
        measured = h.last["weight_rms_matrices"]
        product = t.lr * t.weight_decay * steps
        judged = product >= DYNAMICS.min_product
        rows.append({"lr": t.lr, "weight_decay": t.weight_decay, "decay": t.decay, "steps": steps,
                     "lr_wd_steps": product, "rms0": rms0, "predicted": pred, "measured": measured,
                     "ratio": measured / pred if t.weight_decay > 0 else float("nan"), "judged": judged,
                     "holds": DYNAMICS.holds(measured, pred) if judged else None})
    return rows


@torch.no_grad()
def adam_update_rms(optimizer: torch.optim.Optimizer) -> float:
    """RMS of Adam's normalised update ``u = m_hat / (sqrt(v_hat) + eps)`` over the weight matrices, at the last step.

    The equilibrium of :func:`equilibrium_rms` assumes ``E u^2 = 1``; with a measured ``u_rms``
    the same random walk gives ``u_rms * sqrt(lr / (2 wd))``. ``nan`` before the first step.
    """
    total, count = 0.0, 0
    for group in optimizer.param_groups:
        beta1, beta2 = group["betas"]
        for p in group["params"]:
            state = optimizer.state.get(p, {})
            if p.ndim < 2 or "exp_avg" not in state:
                continue
            step = float(state["step"])
            m = state["exp_avg"].double() / (1 - beta1 ** step)
            v = state["exp_avg_sq"].double() / (1 - beta2 ** step)
            total += float((m / (v.sqrt() + group["eps"])).pow(2).sum())
            count += p.numel()
    return math.sqrt(total / count) if count else float("nan")
