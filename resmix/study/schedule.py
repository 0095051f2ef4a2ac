"""How a grid's runs are grouped into cohorts: by shape, within a memory cap, balanced over workers.

Runs whose tensors have the same shapes (:func:`resmix.training.cohort.cohort_key`) can train as one
cohort. :func:`plan_cohorts` splits each such group into cohorts of at most :func:`cohort_cap`
members and into at least as many cohorts as there are workers (so every core or GPU is busy),
assigning the longest runs first to the cohort with the least work (a greedy longest-processing-
time schedule; a cohort's work is the sum of its members' optimizer steps, since a member that
is done leaves the cohort).
"""
from __future__ import annotations

import math
import os
from typing import Sequence

from resmix.config import Experiment, resolve_device
from resmix.training.cohort import cohort_key

# Achieved training throughput of a cohort, FLOP/s per worker process, by (device kind, precision).
# cpu: MEASURED on the 2-core development CPU, one thread per worker, quick size, cohorts of 16
# (benchmarks/bench_cohort.py), with the per-epoch held-out evaluation (about a fifth of a run)
# folded in. The GPU figures are PROJECTIONS, not measurements: an H100/H200 at about 13% of its
# ~790 TFLOP/s bf16 peak (one run alone measured 13 TFLOP/s, under 2%; a cohort's batched matmuls
# are 16-256x larger), and a T4 at about 40% of its 8.1 TFLOP/s fp32 peak. tools/gpu_check.sh
# measures them; replace these when it has run.
#: sustained FLOP/s of a stacked step by (device, precision); only MEASURED entries are measured
THROUGHPUT = {("cpu", "fp32"): 28e9, ("cpu", "bf16"): 28e9,
              ("cuda", "bf16"): 100e12, ("cuda", "fp32"): 3e12}
MEASURED = {("cpu", "fp32")}  #: which THROUGHPUT entries are measurements, not projections

MAX_COHORT = 256  #: beyond this the stacked step is large enough on any device; more only costs memory
MEMORY_SHARE = 0.25  #: of the memory free when the grid starts, spread over the workers


def steps(exp: Experiment) -> int:
    """Optimizer steps of a run: its epochs times the steps of one pass over its training pairs."""
    return exp.train.epochs * -(-exp.data.n_train // exp.train.batch_size)


def step_flops(exp: Experiment) -> float:
    """Approximate FLOPs of one training step of one run (forward + backward = 3x forward).

    Matmuls: 2 FLOPs per weight per token; attention scores and mixing: 4 T^2 d per layer per clip.
    LayerNorm, softmax and the losses are left out (small at these sizes).
    """
    m, T, D, B = exp.model, exp.data.n_frames, exp.data.frame_size, exp.train.batch_size
    per_layer = 4 * m.d_model ** 2 + 2 * m.ff_mult * m.d_model ** 2  # qkv + proj, mlp
    weights = (2 * D + 3 * D) * m.d_model + 2 * (m.n_layers * per_layer + m.d_model * D)
    forward = B * (2 * weights * T + 2 * m.n_layers * 4 * T ** 2 * m.d_model)
    return 3.0 * forward


def expected_seconds(exps: Sequence[Experiment], workers: int = 1) -> tuple[float, bool]:
    """Projected wall time of training ``exps`` in cohorts (:data:`THROUGHPUT`), and whether the
    throughput it uses was measured (``False``: a projection). One worker per GPU on CUDA."""
    if not exps:
        return 0.0, True
    dev = resolve_device(exps[0].train.device)
    kind = ("cuda" if dev.type == "cuda" else "cpu", "bf16" if exps[0].train.amp else "fp32")
    if dev.type == "cuda":
        import torch
        workers = max(1, torch.cuda.device_count())
    total = sum(steps(e) * step_flops(e) for e in exps)
    return total / THROUGHPUT[kind] / max(1, min(workers, len(exps))), kind in MEASURED


def member_bytes(exp: Experiment) -> int:
    """A rough upper estimate of one member's memory in a training step (bytes, float32).

    Parameters with their gradient, two AdamW moments and the decay factors (5 per parameter),
    the activations autograd keeps (per token and layer about ``(10 + 2 ff_mult) d_model`` values
    in each of the two stages, plus the attention weights), and the member's data.
    """
    m, d, t = exp.model, exp.data, exp.train
    c, ff = m.d_model, m.ff_mult * m.d_model
    params = 2 * m.n_layers * (4 * c * c + 2 * c * ff) + 5 * m.dim * c  # the dominant matrices
    tokens = t.batch_size * d.n_frames
    activations = 2 * m.n_layers * tokens * ((10 * c + 2 * ff) + m.n_heads * d.n_frames)
    data = 2 * (d.n_train + d.n_val) * d.n_samples
    return 4 * (5 * params + activations + data)


def free_memory(device: str = "auto") -> int:
    """Bytes free now on the device runs resolve to (CUDA: the allocator's view; CPU: available RAM)."""
    dev = resolve_device(device)
    if dev.type == "cuda":
        import torch
        return torch.cuda.mem_get_info(dev)[0]
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not POSIX: assume a modest machine
        return 4 << 30


def cohort_cap(exp: Experiment, workers: int = 1, memory: int | None = None) -> int:
    """The most members a cohort of runs like ``exp`` may hold: :data:`MEMORY_SHARE` of the free
    memory over ``workers``, divided by :func:`member_bytes`, within 1 and :data:`MAX_COHORT`."""
    memory = free_memory(exp.train.device) if memory is None else memory
    return max(1, min(MAX_COHORT, int(MEMORY_SHARE * memory / max(1, workers) // member_bytes(exp))))


def plan_cohorts(exps: Sequence[Experiment], workers: int = 1, cap: int | None = None) -> list[list[int]]:
    """The runs' indices grouped into cohorts, largest amount of work first.

    Args:
        exps: the runs to train.
        workers: processes that will train cohorts side by side; each shape group is split into at
            least ``min(workers, its size)`` cohorts.
        cap: the most members per cohort (default: :func:`cohort_cap` of each group).
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1; got {workers}")
    groups: dict[tuple, list[int]] = {}
    for i, e in enumerate(exps):
        groups.setdefault(cohort_key(e), []).append(i)
    cohorts: list[list[int]] = []
    for members in groups.values():
        limit = cap if cap is not None else cohort_cap(exps[members[0]], workers)
        k = max(math.ceil(len(members) / limit), min(workers, len(members)))
        bins: list[list[int]] = [[] for _ in range(k)]
        work = [0] * k
        for i in sorted(members, key=lambda i: -steps(exps[i])):  # longest first, onto the lightest bin
            j = min((j for j in range(k) if len(bins[j]) < limit), key=lambda j: work[j])
            bins[j].append(i)
            work[j] += steps(exps[i])
        cohorts += [sorted(b) for b in bins if b]
    return sorted(cohorts, key=lambda b: -sum(steps(exps[i]) for i in b))
