"""Train a cohort: many runs whose tensors have the same shapes, as one stacked model.

Every run of the study is a small model; one at a time, a training step spends its time on
per-operation overhead, not arithmetic. A cohort stacks ``E`` runs' parameters into ``[E, P]``
(:mod:`resmix.models.stacked`) and takes one step of all of them per call, with one AdamW over the rows
(:mod:`resmix.training.adamw`). No step loops over members in Python, and nothing mixes them: each member
keeps its own data and data seed, initial weights (those ``TwoStageModel`` draws for its seed),
batch order, learning rate, weight decay and decay targets, loss weights, epsilon, correlation
axes, reconstruction kind and reference, variance hinge, residual, input and output scale,
gradient clipping, held-out measurement every epoch, checkpoint and :class:`~resmix.training.history.History`.
So a member's records do not depend on the cohort it ran in or on its position there
(``tests/training/test_cohort.py`` trains the same run alone, in cohorts of other sizes and mixes, and
after a kill, and requires bit-equal records).

Members may train for different numbers of epochs (one that is done leaves the cohort); a member
whose loss turns non-finite leaves it with its :class:`~resmix.training.history.NonFiniteLossError` while the
others go on. :func:`resmix.training.single.train` is the cohort of one.

Shapes: training clips ``[U, n, D, T]`` (U distinct data sets), a step's batch ``[E, B, D, T]``.
"""
from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import Tensor

from resmix._checks import check_pairs
from resmix.config import DataConfig, Experiment, resolve_device
from resmix.data.framing import frame
from resmix.data.sources import held_out, training_pairs
from resmix.losses.objective import LossTable, LossTerms, cohort_losses, epsilon_pull
from resmix.measure.metrics import pearson, rms
from resmix.measure.readout import measure_members
from resmix.models.stacked import ModelSettings, Stacked, forward, initial_rows, member_model, shape_key
from resmix.models.two_stage import StageOutputs

from . import checkpoint as ckpt
from .adamw import CohortAdamW
from .history import History, NonFiniteLossError, provenance

#: the names of the loss terms a step reports (the fields of LossTerms)
TERMS = tuple(f.name for f in fields(LossTerms))
DIVERGED = ("; lower the learning rate, or raise loss.eps if the output has gone constant "
            "(Pearson is 0/0 there)")


def cohort_key(exp: Experiment) -> tuple:
    """What members of one cohort must share: the tensors' shapes, precision, device and threads."""
    d, t = exp.data, exp.train
    return (("sample_rate", d.sample_rate), ("n_samples", d.n_samples), ("frame_size", d.frame_size),
            ("n_train", d.n_train), ("n_val", d.n_val), ("model", shape_key(exp.model)),
            ("batch_size", t.batch_size), ("amp", t.amp), ("device", str(resolve_device(t.device))),
            ("threads", t.threads))


def _check_cohort(exps: Sequence[Experiment]) -> None:
    if not exps or not all(isinstance(e, Experiment) for e in exps):
        raise TypeError("a cohort is a non-empty list of Experiments")
    key = dict(cohort_key(exps[0]))
    for e in exps[1:]:
        other = dict(cohort_key(e))
        diff = [k for k in key if key[k] != other[k]]
        if diff:
            raise ValueError(f"{e.name!r} cannot train in a cohort with {exps[0].name!r}: they differ in "
                             f"{', '.join(f'{k} ({key[k]} vs {other[k]})' for k in diff)}; a cohort's runs share "
                             "their tensors' shapes (study.run_grid groups runs by cohort_key)")
    dropout = [e.name for e in exps if e.model.dropout > 0]
    if dropout:
        raise ValueError(f"the training engine runs without dropout (ModelConfig.dropout=0); got dropout > 0 in "
                         f"{dropout}")


def _check_pairs(data: object, name: str, n: int, n_samples: int) -> tuple[Tensor, Tensor]:
    """``(input, target)`` waveforms ``[n, N]`` as float32 that the experiment describes."""
    x, y = check_pairs(data, name)
    if x.shape != (n, n_samples):
        raise ValueError(f"{name} holds {x.shape[0]} clips of {x.shape[1]} samples; the experiment describes "
                         f"{n} clips of {n_samples} (data.n_{'train' if name == 'train_data' else 'val'}, "
                         "data.clip_seconds x data.sample_rate): set exp.data to describe your data")
    return x, y


class _Data:
    """The distinct training and held-out sets of a cohort, on the device, and each member's index into them."""

    def __init__(self, exps: Sequence[Experiment], device: torch.device, train_data, val_data):
        d0 = exps[0].data
        cfgs: list[DataConfig] = list(dict.fromkeys(e.data for e in exps))
        by_cfg = torch.tensor([cfgs.index(e.data) for e in exps], device=device)
        if train_data is not None:  # the caller's pairs, for every member
            train, self.index = [_check_pairs(train_data, "train_data", d0.n_train, d0.n_samples)], by_cfg * 0
        else:
            train, self.index = [training_pairs(c) for c in cfgs], by_cfg
        if val_data is not None:
            val, self.val_index = [_check_pairs(val_data, "val_data", d0.n_val, d0.n_samples)], by_cfg * 0
        else:
            val, self.val_index = [held_out(c) for c in cfgs], by_cfg
        self.x, self.y = (torch.stack([frame(p[i], d0.frame_size) for p in train]).to(device) for i in (0, 1))  # (U, n, D, T)
        self.val_x, self.val_y = (torch.stack([p[i] for p in val]).to(device) for i in (0, 1))  # (U, n_val, N)

    def select(self, idx: Tensor) -> None:
        self.index, self.val_index = self.index[idx], self.val_index[idx]


class _Results(dict):
    """Each run's result by its position, handed to ``on_done`` as it is set."""

    def __init__(self, on_done):
        super().__init__()
        self.on_done = on_done

    def __setitem__(self, i, result):
        super().__setitem__(i, result)
        if self.on_done:
            self.on_done(i, result)


@dataclass
class _Members:
    """The per-member state of a running cohort that is not a tensor row."""

    positions: list[int]  # each member's index in the caller's list
    exps: list[Experiment]
    generators: list[torch.Generator]
    records: list[list[dict]]
    paths: list[Path | None]

    def keep(self, idx: list[int]) -> None:
        for name in ("positions", "exps", "generators", "records", "paths"):
            setattr(self, name, [getattr(self, name)[i] for i in idx])


class _Cohort:
    """The tensors of a running cohort: parameters, optimizer, settings, data; :meth:`keep` drops members."""

    def __init__(self, exps: Sequence[Experiment], device: torch.device, train_data, val_data):
        self.device, self.exp0 = device, exps[0]
        self.layout, rows = initial_rows([e.model for e in exps], [e.train.seed for e in exps])
        self.params = Stacked.from_rows(self.layout, rows.to(device))
        which = self.layout.which
        self.vectors, self.matrices = which(lambda n, s: len(s) < 2), which(lambda n, s: len(s) >= 2)
        self.outputs = which(lambda n, s: n.endswith("out.weight"))
        self.stages = which(lambda n, s: n.startswith("stage1.")), which(lambda n, s: n.startswith("stage2."))
        self.opt = CohortAdamW(self.params, [e.train for e in exps], self.vectors)
        self.settings = ModelSettings.of([e.model for e in exps], device)
        self.table = LossTable.of([e.loss for e in exps], device, exps[0].data.sample_rate)
        self.data = _Data(exps, device, train_data, val_data)

    def keep(self, idx: list[int]) -> None:
        i = torch.tensor(idx, dtype=torch.long, device=self.device)
        self.params = self.params.select(i)
        self.opt.select(i, self.params)
        self.settings, self.table = self.settings.select(i), self.table.select(idx)
        self.data.select(i)

    def forward(self, x: Tensor, y: Tensor):
        m = self.exp0.model
        p = {k: v.detach().requires_grad_(torch.is_grad_enabled()) for k, v in self.params.views().items()}
        return p, forward(p, x, y, self.settings, m.n_layers, m.n_heads)


def _autocast(exp: Experiment, device: torch.device):
    if exp.train.amp and device.type in ("cuda", "cpu"):
        return lambda: torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext


def train_step(c: _Cohort, x: Tensor, y: Tensor, sample_rate: int, autocast=nullcontext) -> tuple[Tensor, Tensor]:
    """One optimizer step of every member on its batch ``[E, b, D, T]``: each loss term ``[E, 5]``
    (in :data:`TERMS` order) and each stage's gradient norm before clipping ``[E, 2]``."""
    E = x.shape[0]
    with autocast():
        p, parts = c.forward(x, y)
    terms = cohort_losses(parts, x, y, c.table, sample_rate)
    values = torch.stack([t.detach().float() for t in terms.items().values()], -1)  # (E, 5)
    grads = torch.autograd.grad(terms.total.sum(), list(p.values()))
    g = c.opt.grad
    torch.cat([gr.float().reshape(-1) for gr in grads], out=g.flat)
    per_param = c.opt.clip_(g).pow(2)  # (E, n_params): each parameter's squared gradient norm, before clipping
    norms = torch.stack([per_param[:, list(stage)].sum(1).sqrt() for stage in c.stages], -1)  # (E, 2), per row
    c.opt.step(g)
    return values, norms


def _train_epoch(c: _Cohort, m: _Members, sample_rate: int) -> tuple[Tensor, int, list[str | None]]:
    """One epoch of every member: the means of each loss term and stage gradient norm ``[E, 7]``,
    the steps taken, and for each member why it diverged (``None``: it did not).

    Divergence is checked once per epoch, not per step (no device sync inside the loop): a
    member's first non-finite step and its terms there are kept on the device until then."""
    n, bs = c.data.x.shape[1], c.exp0.train.batch_size
    E = len(m.exps)
    autocast = _autocast(c.exp0, c.device)
    perms = torch.stack([torch.randperm(n, generator=g) for g in m.generators]).to(c.device)  # (E, n)
    rows = c.data.index[:, None]
    sums, steps = None, 0
    first_bad = torch.full((E,), -1, device=c.device)
    bad_terms = torch.zeros(E, len(TERMS), device=c.device)
    for step, i in enumerate(range(0, n, bs)):
        idx = perms[:, i:i + bs]  # (E, b)
        values, norms = train_step(c, c.data.x[rows, idx], c.data.y[rows, idx], sample_rate, autocast)  # (E, b, D, T)
        new_bad = (first_bad < 0) & ~torch.isfinite(values[:, -1])
        first_bad = torch.where(new_bad, step, first_bad)
        bad_terms = torch.where(new_bad[:, None], values, bad_terms)
        row = torch.cat([values, norms], -1)  # (E, 7)
        sums = row if sums is None else sums + row
        steps += 1
    epoch = [len(r) + 1 for r in m.records]
    why = [None if s < 0 else f"epoch {ep}, step {s + 1}: {_bad_term(t)}"
           for s, t, ep in zip(first_bad.tolist(), bad_terms.tolist(), epoch)]
    return sums / steps, steps, why


def _bad_term(values: list[float]) -> str:
    """``loss term 'x' is nan`` for the first non-finite of a member's terms (in :data:`TERMS` order)."""
    k = next(i for i, v in enumerate(values) if v != v or abs(v) == float("inf"))
    return f"loss term {TERMS[k]!r} is {values[k]}"


@torch.no_grad()
def evaluate_members(forward: Callable[[Tensor, Tensor], StageOutputs], table: LossTable, input: Tensor,
                     target: Tensor, frame_size: int, sample_rate: int,
                     batch_size: int = 256) -> tuple[list[dict[str, float]], list[str | None]]:
    """Each member's held-out metrics and, per member, why it failed (``None``: it did not).

    ``forward`` maps ``[E, b, D, T]`` clips to every member's :class:`~resmix.models.two_stage.StageOutputs`;
    ``input``, ``target`` are each member's held-out waveforms ``[E, n, N]``. Keys: ``loss_*``
    (each term and the total), ``rms_output1`` and ``corr_output1`` (stage 2 against stage 1), and
    every key of :func:`~resmix.measure.readout.measure`. Batches of ``batch_size`` clips are averaged,
    weighted by their size. A member whose loss is not finite fails (its metrics would mean nothing).
    """
    E, n = input.shape[:2]
    sums: list[dict[str, float]] = [{} for _ in range(E)]
    failed: list[str | None] = [None] * E
    for chunk in torch.arange(n).tensor_split(-(-n // batch_size)):  # even batches: no batch of one clip
        x, y = (frame(w[:, chunk].reshape(E * len(chunk), -1), frame_size).view(E, len(chunk), frame_size, -1)
                for w in (input, target))  # (E, b, D, T)
        parts = forward(x, y)
        terms = cohort_losses(parts, x, y, table, sample_rate)
        values = torch.stack(list(terms.items().values()), -1).float()  # (E, 5)
        finite = torch.isfinite(values).all(-1).tolist()
        for e in range(E):
            if not finite[e] and failed[e] is None:
                failed[e] = f"held-out clips {int(chunk[0]) + 1}-{int(chunk[-1]) + 1}: {_bad_term(values[e].tolist())}"
        if any(failed):
            continue
        out: dict[str, list[float]] = {f"loss_{k}": values[:, j].tolist() for j, k in enumerate(TERMS)}
        o2, o1 = (t.flatten(0, 1) for t in (parts.output2, parts.output1))  # (E*b, D, T)
        out["rms_output1"] = rms(o1).view(E, -1).mean(1).tolist()
        out["corr_output1"] = pearson(o2, o1, 1e-12).view(E, -1).mean(1).tolist()
        ratio, pull = epsilon_pull(parts.output2, y, table)
        out["eps_ratio"], out["eps_pull"] = ratio.tolist(), pull.tolist()
        measured = measure_members(lambda a, b: forward(a, b).output2, x, y, sample_rate, output=parts.output2)
        for e in range(E):
            for k, v in {**{k: vs[e] for k, vs in out.items()}, **measured[e]}.items():
                sums[e][k] = sums[e].get(k, 0.0) + v * len(chunk)
    return [{k: v / n for k, v in s.items()} for s in sums], failed


def _weight_rms(c: _Cohort) -> dict[str, list[float]]:
    """Each member's per-coordinate RMS of the output projections, weight matrices and vectors (float64)."""
    sizes = c.layout.sizes()

    def rms(which):
        if not which:
            return [float("nan")] * c.params.E
        total = c.params.row_sums(which, lambda x: x.pow(2))
        return (total / sum(sizes[i] for i in which)).sqrt().tolist()
    return {f"weight_rms_{name}": rms(which)
            for name, which in (("output", c.outputs), ("matrices", c.matrices), ("vectors", c.vectors))}


def _member_state(c: _Cohort, m: _Members, e: int) -> ckpt.MemberState:
    s = c.opt.state
    return ckpt.MemberState(c.params.row(e), s.exp_avg.row(e), s.exp_avg_sq.row(e), s.steps[e],
                            m.generators[e].get_state(), m.records[e])


def _resume(c: _Cohort, m: _Members, steps_per_epoch: int) -> None:
    for e, (exp, path) in enumerate(zip(m.exps, m.paths)):
        state = ckpt.load(path, exp, c.layout, steps_per_epoch) if path else None
        if state is None:
            continue
        with torch.no_grad():
            c.params.set_row(e, state.params.to(c.device))
            c.opt.state.exp_avg.set_row(e, state.exp_avg.to(c.device))
            c.opt.state.exp_avg_sq.set_row(e, state.exp_avg_sq.to(c.device))
        c.opt.state.steps[e] = state.steps
        m.generators[e].set_state(state.generator)
        m.records[e] = state.records


def train_cohort(exps: Sequence[Experiment], *, checkpoints: Sequence[str | Path | None] | None = None,
                 train_data: tuple[Tensor, Tensor] | None = None, val_data: tuple[Tensor, Tensor] | None = None,
                 progress: bool = True, callback: Callable[[int, dict[str, float]], None] | None = None,
                 on_done: Callable[[int, History | NonFiniteLossError], None] | None = None,
                 ) -> list[History | NonFiniteLossError]:
    """Train every experiment as one stacked model; return each one's History (or its NonFiniteLossError).

    Args:
        exps: the runs; they must share :func:`cohort_key` (shapes, precision, device, threads).
        checkpoints: one path (or ``None``) per run: written atomically after every epoch and resumed
            from when it exists (see :mod:`resmix.training.checkpoint`).
        train_data, val_data: ``(input, target)`` waveforms ``[n, N]`` for every member (default: each
            member's own :func:`~resmix.data.sources.training_pairs` and :func:`~resmix.data.sources.held_out` of its data config).
        progress: one tqdm bar over the members' epochs.
        callback: ``callback(i, record)`` after run ``i``'s epoch record (and checkpoint) is written.
        on_done: ``on_done(i, result)`` as soon as run ``i`` leaves the cohort (done or diverged), so a
            caller can store a short run while the long ones go on.

    The cohort uses its runs' ``train.threads`` CPU threads; the caller's count is restored after.
    """
    exps = list(exps)
    _check_cohort(exps)
    paths = [Path(p) if p else None for p in (checkpoints or [None] * len(exps))]
    if len(paths) != len(exps):
        raise ValueError(f"checkpoints must hold one path (or None) per run; got {len(paths)} for {len(exps)} runs")
    for p in paths:
        if p is not None:
            ckpt.check_path(p)
    before = torch.get_num_threads()
    torch.set_num_threads(exps[0].train.threads)
    try:
        return _train(exps, paths, train_data, val_data, progress, callback, on_done)
    finally:
        torch.set_num_threads(before)


def _train(exps, paths, train_data, val_data, progress, callback, on_done) -> list[History | NonFiniteLossError]:
    device = resolve_device(exps[0].train.device)
    c = _Cohort(exps, device, train_data, val_data)
    m = _Members(list(range(len(exps))), list(exps), [torch.Generator().manual_seed(e.train.seed) for e in exps],
                 [[] for _ in exps], paths)
    n, bs = c.data.x.shape[1], exps[0].train.batch_size
    _resume(c, m, -(-n // bs))
    meta = provenance(device) | {"cohort_size": len(exps)}
    out = _Results(on_done)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=sum(e.train.epochs for e in exps), initial=sum(map(len, m.records)),
                   desc=exps[0].name if len(exps) == 1 else f"cohort of {len(exps)}")
    sample_rate = exps[0].data.sample_rate
    while True:
        _finish(c, m, out, meta)
        if not m.exps:
            break
        t0 = time.perf_counter()
        means, steps, diverged = _train_epoch(c, m, sample_rate)
        means = _fail(c, m, out, diverged, means)
        while m.exps:
            val, failed = evaluate_members(lambda x, y: c.forward(x, y)[1], c.table, c.data.val_x[c.data.val_index],
                                           c.data.val_y[c.data.val_index], c.exp0.data.frame_size, sample_rate)
            if not any(failed):
                break
            # the epoch's last update diverged: no training step saw it
            means = _fail(c, m, out, [why and f"epoch {len(r) + 1}, after step {steps} (its last), {why}"
                                      for why, r in zip(failed, m.records)], means)
        if not m.exps:
            break
        weights = _weight_rms(c)
        updates = c.opt.update_rms(c.matrices)
        seconds = (time.perf_counter() - t0) / len(m.exps)
        for e, row in enumerate(means.tolist()):
            epoch = len(m.records[e]) + 1
            record = {"epoch": float(epoch), "step": float(epoch * steps)}
            record |= {f"train_{k}": v for k, v in zip(TERMS, row)}
            record |= {"grad_norm_stage1": row[-2], "grad_norm_stage2": row[-1]}
            record |= {k: v[e] for k, v in weights.items()} | {"adam_update_rms": updates[e]}
            record |= {f"val_{k}": v for k, v in val[e].items()}
            record["seconds"] = seconds
            m.records[e].append(record)
            if m.paths[e]:
                ckpt.save(m.paths[e], m.exps[e], c.layout, _member_state(c, m, e))
            if callback:
                callback(m.positions[e], record)
        if bar is not None:
            bar.update(len(m.exps))
            if len(m.exps) == 1:
                r = m.records[0][-1]
                bar.set_postfix(rms=f"{r['val_rms_output']:.3g}", corr=f"{r['val_corr_target']:.3f}")
    if bar is not None:
        bar.close()
    return [out[i] for i in range(len(exps))]


def _fail(c: _Cohort, m: _Members, out: dict, why: list[str | None], means: Tensor) -> Tensor:
    """Members with a reason ``why`` leave with their NonFiniteLossError; returns the others' rows of ``means``."""
    for e, w in enumerate(why):
        if w:
            out[m.positions[e]] = NonFiniteLossError(w + DIVERGED)
    keep = [e for e, w in enumerate(why) if not w]
    _drop(c, m, keep)
    return means[keep]


def _drop(c: _Cohort, m: _Members, keep: list[int]) -> None:
    if len(keep) != len(m.exps):
        if keep:  # nobody left: the cohort's tensors are not needed any more
            c.keep(keep)
        m.keep(keep)


def _finish(c: _Cohort, m: _Members, out: dict, meta: dict) -> None:
    """Members that have trained all their epochs leave the cohort with their History."""
    done = [e for e, exp in enumerate(m.exps) if len(m.records[e]) >= exp.train.epochs]
    for e in done:
        exp = m.exps[e]
        model = member_model(exp.model, c.layout, c.params.row(e)).eval()
        out[m.positions[e]] = History(exp, m.records[e], meta | {"seed": exp.train.seed, "profile": exp.profile},
                                      model=model)
    _drop(c, m, [e for e in range(len(m.exps)) if e not in done])
