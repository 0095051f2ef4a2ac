"""The first registration: the collapse (C7) and the remedy (C8) as the seed states them, configurations and verdict rules.

Registered 2026-11-26, commit 08b526b (its criteria in :mod:`resmix.criteria`: commit 035871a the same day),
before the runs they judge, and never tuned on them. Chapter 4, chapter 5
and the scale-check appendix build their runs from here and read their verdicts from here,
so a change to a rule shows in ``git log`` and applies to every page at once.

Configurations (each replicated over ``SEEDS`` x ``DATA_SEEDS``: 5 model seeds x 2
data seeds, the pairs that :mod:`resmix.measure.stats` matches):

- ``"seed's setting"``: the fixed design, anti-correlation and novelty at weight 1, no
  reconstruction, the textbook ``eps = 1e-8``, AdamW at lr 1e-3 and weight decay 0.01, the
  default start: the seed's configuration as we read it.
- ``"matched eps, quiet start"``: the same with ``eps`` equal to ``s = s_out * s_tgt`` at the
  target's level (``rms**2``) and an output started 12 dB below the target by a *frozen* gain
  (``ModelConfig.output_scale``), so the trainable weights keep their size: the first book's
  quiet condition, with its confound between start and effective learning rate removed.
- ``"strong decay"``: the seed's setting with weight decay 3, so that ``lr * wd * steps`` is
  about 2 within the run: AdamW's equilibrium weight size ``sqrt(lr / (2 wd))`` is then well
  below PyTorch's initial size and the prediction says the output drifts quieter.

Remedies (chapter 5) are added to the *baseline* ``"matched eps, quiet start"``: a waveform MSE
and a multi-resolution STFT loss at the seed's weight 0.01, and the variance hinge at 0.1 (a
comparator outside the C8 rule; chapter 5 runs it only in its exploratory sweep, for time).

Verdict rules: :func:`c7_verdict` and :func:`c8_verdict` (their docstrings state them).
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from resmix.config import Experiment
from resmix.criteria import COLLAPSE, STATS, VERDICT_RULES
from resmix.data.framing import frame
from resmix.data.sources import held_out
from resmix.measure.diagnostics import output_scale_for, untrained_level_db
from resmix.measure.score import RemedyScore, remedy_score
from resmix.measure.stats import METHODS, PairedDifference, paired_difference, seeds_of, values_by_seeds
from resmix.study.runner import load_model

SEEDS = tuple(range(STATS.min_seeds))  # model seeds 0-4
DATA_SEEDS = (1234, 2234)  # DataConfig's default data seed and one 1000 above (held-out sets: seed + 1)
QUIET_START_DB = -12.0  # the first book's quiet start: 12 dB below the untrained level of the target
STRONG_DECAY = 3.0  # lr 1e-3 x wd 3 x 768 steps = 2.3 time constants at the quick size
REMEDY_WEIGHT = 0.01  # the seed's "small reconstruction loss (e.g., 0.01)"
VARIANCE_WEIGHT = 0.1  # the hinge's smallest weight that held the level in the first book

RECONSTRUCTION_REMEDIES = ("mse 0.01", "mrstft 0.01")  # the seed's remedy, in its two kinds: what C8 is about
SEED_SETTING = "seed's setting"
MATCHED_QUIET = "matched eps, quiet start"
STRONG = "strong decay"
BASELINE = MATCHED_QUIET  # chapter 5's no-remedy baseline


def scaled(exp: Experiment, steps: int = 4, width: int = 2) -> Experiment:
    """``exp`` with ``steps`` times the epochs and ``width`` times ``d_model`` (the scale check's runs)."""
    return replace(exp.with_(train={"epochs": exp.train.epochs * steps}, model={"d_model": exp.model.d_model * width}),
                   name=f"{exp.name}-x{steps}steps-x{width}width")


def replicate(exp: Experiment, seeds: Sequence[int] = SEEDS,
              data_seeds: Sequence[int] = DATA_SEEDS) -> list[Experiment]:
    """``exp`` once per (model seed, data seed), named ``"<name>|seed=s|data=d"``."""
    return [replace(exp, name=f"{exp.name}|seed={s}|data={d}", train=replace(exp.train, seed=s),
                    data=replace(exp.data, seed=d)) for d in data_seeds for s in seeds]


def start_db(exp: Experiment) -> float:
    """Level (dB re the target) of ``exp``'s untrained model on its held-out clips (model seed 0)."""
    x, y = (frame(w, exp.data.frame_size) for w in held_out(exp.data))
    return untrained_level_db(exp.model, x, y, seed=0)


def penalties_only(exp: Experiment) -> Experiment:
    """The fixed design with the anti-correlation and novelty penalties at 1 and nothing else."""
    return exp.with_(model={"residual": "none"},
                     loss={"anti_correlation": 1.0, "novelty": 1.0, "reconstruction": 0.0, "variance": 0.0})


def collapse_configs(exp: Experiment) -> dict[str, Experiment]:
    """The three pre-registered configurations of C7 (module docstring), from a profile ``exp``."""
    seed = penalties_only(exp).with_(loss={"eps": 1e-8}, train={"weight_decay": 0.01})
    scale = output_scale_for(QUIET_START_DB, start_db(seed))
    return {SEED_SETTING: replace(seed, name="c7-seed"),
            MATCHED_QUIET: replace(seed.with_(loss={"eps": exp.data.rms ** 2}, model={"output_scale": scale}),
                                   name="c7-matched"),
            STRONG: replace(seed.with_(train={"weight_decay": STRONG_DECAY}), name="c7-decay")}


def remedy_configs(exp: Experiment) -> dict[str, Experiment]:
    """Chapter 5's baseline and its three pre-registered remedies, from a profile ``exp``."""
    base = collapse_configs(exp)[BASELINE]
    return {"none": replace(base, name="c8-none"),
            "mse 0.01": replace(base.with_(loss={"reconstruction": REMEDY_WEIGHT, "recon_kind": "mse"}), name="c8-mse"),
            "mrstft 0.01": replace(base.with_(loss={"reconstruction": REMEDY_WEIGHT, "recon_kind": "mrstft"}),
                                   name="c8-mrstft"),
            "variance 0.1": replace(base.with_(loss={"variance": VARIANCE_WEIGHT}), name="c8-variance")}


def _record_at(history: Any, epoch: int) -> dict[str, float]:
    """The record after ``epoch`` (1-based; clipped to the run's last epoch)."""
    if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral) or epoch < 1:
        raise ValueError(f"epoch must be an integer >= 1 (epochs count from 1); got {epoch!r}")
    if not history.records:
        raise ValueError(f"run {history.experiment.name!r} has no records; expected at least one epoch")
    return history.records[min(int(epoch), len(history.records)) - 1]


def level_at(history: Any, epoch: int) -> float:
    """Output level (dB re target) after ``epoch`` (1-based; clipped to the run's last epoch).

    Raises ValueError for an epoch below 1 (0 or a negative one would silently read the end).
    """
    return float(_record_at(history, epoch)["val_rms_ratio_db"])


def _settings(exp: Experiment) -> Experiment:
    """``exp`` without what :func:`replicate` varies (name, model seed, data seed): one configuration's settings."""
    return replace(exp, name="", train=replace(exp.train, seed=0), data=replace(exp.data, seed=0))


def _check_method(method: str) -> None:
    """Checked even where no interval is resampled (one pair: its own difference)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")


def _check_runs(runs: Mapping[str, Sequence[Any]], known: Sequence[str], required: str, what: str) -> None:
    """Require ``{name: histories}`` of known, distinct configurations, each replicated once per seed pair.

    A misspelt name, a configuration without runs (or with a run without records), a run listed
    twice (or two runs of one seed pair), runs of different settings under one name, or one
    configuration's runs under two names would each change a verdict silently.
    """
    if not isinstance(runs, Mapping):
        raise TypeError(f"runs must map each {what} to its runs; got {type(runs).__name__}")
    unknown = [n for n in runs if n not in known]
    if unknown:
        raise ValueError(f"unknown {what} {unknown}; expected names among {list(known)}")
    if required not in runs:
        raise ValueError(f"runs must include the {what} {required!r}; got {list(runs)}")
    settings: dict[str, Experiment] = {}
    for name, hs in runs.items():
        if len(hs) == 0:
            raise ValueError(f"{what} {name!r} has no runs; expected at least one")
        pairs: dict[tuple[int, int], str] = {}
        for h in hs:
            if not h.records:
                raise ValueError(f"{what} {name!r}: run {h.experiment.name!r} has no records")
            key = seeds_of(h)
            if key in pairs:
                raise ValueError(f"{what} {name!r} holds two runs of (seed, data seed) = {key} "
                                 f"({pairs[key]!r} and {h.experiment.name!r}); expected each seed pair once")
            pairs[key] = h.experiment.name
        kinds = {_settings(h.experiment) for h in hs}
        if len(kinds) > 1:
            raise ValueError(f"{what} {name!r} mixes runs of {len(kinds)} different settings; expected one "
                             "configuration replicated over seeds (protocol.replicate)")
        settings[name] = kinds.pop()
    names = list(settings)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if settings[a] == settings[b]:
                raise ValueError(f"{what}s {a!r} and {b!r} hold runs of the same settings; expected "
                                 "each configuration's own runs")


@dataclass(frozen=True)
class ConfigSummary:
    """What the C7 rule reads from the runs of one configuration."""

    n: int
    collapsed_at_21: int  # runs collapsed (COLLAPSE.collapsed) after epoch 21 (or their last)
    collapsed_end: int  # ... after their last epoch
    quiet_end: int  # runs below the target's level at the end
    level_end_db: float  # mean final level
    vs_seed: PairedDifference | None  # final level minus the seed's setting's, paired; None for that one


def _paired(treated: Sequence[Any], baseline: Sequence[Any], method: str) -> PairedDifference:
    """Final level of ``treated`` minus ``baseline``, paired by seeds; with one pair, that pair's difference.

    One pair has no interval: the "interval" is the single difference, so a reading of it says what
    that one pair did (the scale check's case), nothing more.
    """
    t, b = values_by_seeds(treated, "val_rms_ratio_db"), values_by_seeds(baseline, "val_rms_ratio_db")
    if len(t) == 1 and set(t) == set(b):
        d = next(iter(t.values())) - next(iter(b.values()))
        return PairedDifference(d, d, d, 1, STATS.confidence)
    return paired_difference(t, b, method=method)


def _summary(runs: Sequence[Any], seed_runs: Sequence[Any] | None, method: str) -> ConfigSummary:
    at21 = [COLLAPSE.collapsed(r["val_rms_ratio_db"], r["val_corr_target"])
            for r in (_record_at(h, 21) for h in runs)]
    end = [COLLAPSE.collapsed(h.last["val_rms_ratio_db"], h.last["val_corr_target"]) for h in runs]
    diff = None
    if seed_runs is not None:
        diff = _paired(runs, seed_runs, method)
    return ConfigSummary(len(runs), sum(at21), sum(end), sum(COLLAPSE.quiet(h.last["val_rms_ratio_db"]) for h in runs),
                         sum(h.last["val_rms_ratio_db"] for h in runs) / len(runs), diff)


@dataclass(frozen=True)
class C7Result:
    """C7's verdict by the registered rule, its reason, and each configuration's summary."""

    verdict: str  # "supported" | "partly" | "refuted"
    reason: str
    configs: dict[str, ConfigSummary]


def c7_verdict(runs: Mapping[str, Sequence[Any]], method: str = STATS.method) -> C7Result:
    """C7 from the runs of :func:`collapse_configs` (``{name: histories}``), by a rule fixed before the runs.

    - **supported**: the seed's setting collapses (``COLLAPSE.collapsed``: 20 dB below the
      target and uncorrelated) by epoch 21 in at least ``VERDICT_RULES.min_share`` of its runs;
    - **partly**: it does not, but a pre-registered condition does what the seed describes in
      part: at least that share of its runs ends below the target's level *and* its final level
      is below the seed's setting's by more than ``STATS.level_margin_db`` (the paired
      interval lies entirely below ``-margin``);
    - **refuted**: neither.

    ``method``: the bootstrap's (``resmix.measure.stats``); with very few pairs ``"percentile"``, whose
    interval then spans the pairs' own differences: "below" means every pair is below. With a
    single pair (the scale check) the reading is that pair's difference.

    ``runs`` may hold a subset of the configurations, the seed's setting among them; each
    configuration needs at least one run, each seed pair once (else ValueError).
    """
    _check_runs(runs, (SEED_SETTING, MATCHED_QUIET, STRONG), SEED_SETTING, "configuration")
    _check_method(method)
    seed_runs = runs[SEED_SETTING]
    configs = {name: _summary(hs, None if name == SEED_SETTING else seed_runs, method) for name, hs in runs.items()}
    s = configs[SEED_SETTING]
    if s.collapsed_at_21 >= VERDICT_RULES.min_share * s.n:
        return C7Result("supported", f"the seed's setting collapses by epoch 21 in {s.collapsed_at_21}/{s.n} runs", configs)
    quiet = [n for n, c in configs.items() if n != SEED_SETTING and c.quiet_end >= VERDICT_RULES.min_share * c.n
             and c.vs_seed.verdict(STATS.level_margin_db) == "below"]
    if quiet:
        return C7Result("partly", f"the seed's setting collapses by epoch 21 in {s.collapsed_at_21}/{s.n} runs; "
                        f"quiet under: {', '.join(quiet)}", configs)
    return C7Result("refuted", f"the seed's setting collapses by epoch 21 in {s.collapsed_at_21}/{s.n} runs and no "
                    "pre-registered condition goes quiet", configs)


REMEDIES = ("none", *RECONSTRUCTION_REMEDIES, "variance 0.1")  # the names of remedy_configs


def _check_passed(runs: Mapping[str, Sequence[Any]], passed: Mapping[str, Sequence[bool]]) -> None:
    """Require one real bool per run, under the runs' own names: a stale or extra flag, a string
    ``"False"`` or a score of 0.7 would otherwise count as a pass."""
    if not isinstance(passed, Mapping):
        raise TypeError(f"passed must map each remedy to one bool per run; got {type(passed).__name__}")
    if set(passed) != set(runs):
        raise ValueError(f"passed must hold the remedies of runs, no more, no fewer; missing "
                         f"{sorted(set(runs) - set(passed))}, extra {sorted(set(passed) - set(runs))}")
    for name, hs in runs.items():
        flags = list(passed[name])
        if len(flags) != len(hs):
            raise ValueError(f"passed[{name!r}] has {len(flags)} flags for {len(hs)} runs; expected one "
                             "per run, in the runs' order")
        bad = [f for f in flags if not isinstance(f, (bool, np.bool_))]
        if bad:
            raise TypeError(f"passed[{name!r}] must hold True or False per run (RemedyScore.passed); got "
                            f"{bad[0]!r} ({type(bad[0]).__name__})")


@dataclass(frozen=True)
class RemedySummary:
    """What the C8 rule reads from the runs of one remedy."""

    n: int
    score_passed: int  # runs whose final model passes all four tests of resmix.measure.score.remedy_score
    level_end_db: float
    vs_none: PairedDifference | None  # final level minus the baseline's, paired; None for the baseline


@dataclass(frozen=True)
class C8Result:
    """C8's verdict by the registered rule, its reason, each remedy's summary, and whether the baseline ends quiet."""

    verdict: str
    reason: str
    remedies: dict[str, RemedySummary]
    baseline_quiet: bool  # the baseline ends below the target in at least min_share of its runs


def c8_verdict(runs: Mapping[str, Sequence[Any]], passed: Mapping[str, Sequence[bool]],
               method: str = STATS.method) -> C8Result:
    """C8 from the runs of :func:`remedy_configs` and whether each run passes the remedy score.

    ``passed[name][i]`` belongs to ``runs[name][i]``. A remedy *passes* when at least
    ``VERDICT_RULES.min_share`` of its runs pass all four tests; it *lifts* the level when the
    baseline goes quiet (that share of its runs below the target) and the remedy's paired final
    level is above the baseline's by more than ``STATS.level_margin_db``.

    - **supported**: a reconstruction loss at 0.01 (MSE or MR-STFT) passes;
    - **partly**: none passes, but one lifts the level (it stops the quiet part only);
    - **refuted**: neither.

    ``method``: as in :func:`c7_verdict`.

    ``runs`` holds ``"none"`` and any of the other remedies of :func:`remedy_configs` (an unknown
    name is a ValueError, not a remedy that never passes); ``passed`` holds the same names, each
    with one bool per run (``RemedyScore.passed``, in the runs' order).
    """
    _check_runs(runs, REMEDIES, "none", "remedy")
    _check_method(method)
    _check_passed(runs, passed)
    base = runs["none"]
    base_quiet = sum(COLLAPSE.quiet(h.last["val_rms_ratio_db"]) for h in base) >= VERDICT_RULES.min_share * len(base)
    out = {}
    for name, hs in runs.items():
        diff = None if name == "none" else _paired(hs, base, method)
        out[name] = RemedySummary(len(hs), sum(bool(f) for f in passed[name]),
                                  sum(h.last["val_rms_ratio_db"] for h in hs) / len(hs), diff)
    recon = [n for n in runs if n in RECONSTRUCTION_REMEDIES]
    passes = [n for n in recon if out[n].score_passed >= VERDICT_RULES.min_share * out[n].n]
    lifts = [n for n in recon if base_quiet and out[n].vs_none.verdict(STATS.level_margin_db) == "above"]
    if passes:
        return C8Result("supported", f"passes the remedy score: {', '.join(passes)}", out, base_quiet)
    if lifts:
        return C8Result("partly", f"no reconstruction loss passes the score; the level is lifted by {', '.join(lifts)}",
                        out, base_quiet)
    return C8Result("refuted", "no reconstruction loss at 0.01 passes the score or lifts a quiet baseline's level",
                    out, base_quiet)


def _interval(d: PairedDifference | None, margin: float) -> dict[str, Any]:
    if d is None:
        return {"difference_db": None, "low": None, "high": None, "reading": "baseline"}
    return {"difference_db": d.mean, "low": d.low, "high": d.high, "reading": d.verdict(margin)}


def c7_rows(result: C7Result) -> list[dict[str, Any]]:
    """One row per configuration of :func:`c7_verdict`'s result: counts, mean level, paired difference."""
    return [{"configuration": name, "runs": c.n, "collapsed by epoch 21": c.collapsed_at_21,
             "collapsed at the end": c.collapsed_end, "below the target": c.quiet_end, "level_db": c.level_end_db,
             **_interval(c.vs_seed, STATS.level_margin_db)} for name, c in result.configs.items()]


def c8_rows(result: C8Result) -> list[dict[str, Any]]:
    """One row per remedy of :func:`c8_verdict`'s result: score passes, mean level, paired difference."""
    return [{"remedy": name, "runs": r.n, "pass all four tests": r.score_passed, "level_db": r.level_end_db,
             **_interval(r.vs_none, STATS.level_margin_db)} for name, r in result.remedies.items()]


def score_runs(histories: Sequence[Any], results: str, criteria=None) -> list[RemedyScore]:
    """:func:`resmix.measure.score.remedy_score` of each stored run's final model, on that run's own held-out clips
    (``criteria``: the score's version, ``criteria.REMEDY`` by default or ``criteria.REMEDY_V2``)."""
    from resmix.criteria import REMEDY
    out = []
    for h in histories:
        d = h.experiment.data
        x, y = (frame(w, d.frame_size) for w in held_out(d))
        with torch.no_grad():
            out.append(remedy_score(load_model(h.experiment, results), x, y, d.sample_rate, criteria or REMEDY))
    return out
