"""Input checks shared by the package: errors say what was expected."""
from __future__ import annotations

import numbers

import torch
from torch import Tensor


def check_tensor(x: object, name: str, ndim: int, layout: str, finite: bool = True) -> Tensor:
    """Require a non-empty floating tensor of rank ``ndim``, with finite values if ``finite``.

    Hot paths (the model, the losses) pass ``finite=False``: the check would force a
    GPU sync every step, and the training loop catches non-finite losses anyway.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor {layout}; got {type(x).__name__}")
    if x.ndim != ndim:
        raise ValueError(f"{name} must have shape {layout} (rank {ndim}); got {list(x.shape)}")
    if x.numel() == 0:
        raise ValueError(f"{name} must be non-empty {layout}; got shape {list(x.shape)}")
    if not torch.is_floating_point(x):
        raise ValueError(f"{name} must be a floating tensor; got dtype {x.dtype}")
    if finite and not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values; expected finite {layout}")
    return x


def check_same_shape(layout: str, **tensors: Tensor) -> None:
    """Require every named tensor to have the same shape."""
    shapes = {k: list(v.shape) for k, v in tensors.items()}
    if len({tuple(s) for s in shapes.values()}) > 1:
        detail = ", ".join(f"{k} {s}" for k, s in shapes.items())
        raise ValueError(f"{' and '.join(shapes)} must have the same shape {layout}; got {detail}")


def check_sample_rate(sample_rate: object, name: str = "sample_rate") -> int:
    """Require a positive integer number of Hz (not a bool, a float or the text ``"8000"``)."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Integral) or sample_rate < 1:
        raise ValueError(f"{name} must be a positive integer (Hz); got {sample_rate!r} ({type(sample_rate).__name__})")
    return int(sample_rate)


def check_pairs(data: object, name: str) -> tuple[Tensor, Tensor]:
    """``(input, target)`` waveforms ``[n, N]`` as float32 (float64 and bf16 are cast)."""
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"{name} must be a pair (input, target) of waveforms [n, N]; got "
                        f"{type(data).__name__}" + (f" of {len(data)}" if isinstance(data, (tuple, list)) else ""))
    x, y = (check_tensor(w, f"{name} {part}", 2, "[n, N]") for w, part in zip(data, ("input", "target")))
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{name} must hold as many targets as inputs; got {x.shape[0]} inputs "
                         f"{list(x.shape)} and {y.shape[0]} targets {list(y.shape)}")
    check_same_shape("[n, N]", **{f"{name} input": x, f"{name} target": y})
    return x.float(), y.float()
