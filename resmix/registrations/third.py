"""The third registration: fixes for the quiet output as a user would apply them, and the note's own horizon.

Registered 2026-12-07, in the commit that adds this module (its hash is in CHANGELOG), with its
criteria (``FixCriteria``, ``FIX`` in :mod:`resmix.criteria`), before any of its runs.

The design note's author asks why his model's output went quiet and what fixes it. The second
registration (:mod:`resmix.registrations.second`) found that the note's setting as we read it gets
louder, and that an output goes quiet on two roads: an epsilon comparable to the output's own scale,
and strong weight decay on every parameter. Here each of four fixes is added to each of the three
settings (``SETTINGS``: the note's setting, the epsilon road, the decay road) and compared with that
setting without it, seed pair by seed pair:

- **"waveform MSE 0.01"**: the note's own remedy, a waveform MSE to the target at weight 0.01;
- **"MR-STFT 0.01"**: a multi-resolution STFT reconstruction term at the note's weight: phase-blind,
  it asks for the target's spectrum and not its waveform, so it need not fight the anti-correlation
  penalty as the waveform MSE does;
- **"no decay on gains and biases"**: ``train.decay = "weights"``, the way nanoGPT and BERT train
  (AdamW decays the weight matrices only). The second registration's stress test found, exploratory,
  at n = 5 and on one road, that decay on LayerNorm's gains carries the decay road's quiet;
- **"level floor"**: our own fix, by this reasoning. On both roads a force lowers the level: the
  epsilon pull (``|rho_eps| = |rho| s / (s + eps)`` falls as ``s`` falls) or decay (the weights'
  equilibrium size ``sqrt(lr / (2 wd))``). Nothing in the penalties holds the level up, because
  Pearson's correlation is blind to scale. A term that holds the output's standard deviation at the
  target's and asks nothing of its waveform opposes that force and nothing else. Derived, that term
  is an old knob: VICReg's variance hinge (Bardes et al. 2022; ``LossConfig.variance``), here at the
  first registration's weight 0.1 (the hinge's smallest weight that held the level in the first book)
  with its floor at the target's standard deviation (``variance_gamma = 1``).

Each (setting, fix) and each baseline runs 5 model seeds x 2 data seeds (``SEEDS`` x ``DATA_SEEDS``),
the quick profile's 768 steps, paired with its baseline by (model seed, data seed).

**Primary metric**: the final level's distance from the target's, ``|level re target|`` in dB
(:func:`level_error`), so that bringing a quiet output up and bringing a loud one down both count.
**Verdict** (:func:`fix_verdict`; thresholds in ``FixCriteria``): a fix *brings the level closer* when
the paired difference ``|baseline| - |fix|`` has its interval above 1 dB; it **fixes** the setting when,
besides, at least 80% of its runs *sound* (:func:`sounds`: within 6 dB of the target's level, not
near-constant, input-dependent). Intervals: BCa bootstrap, two-sided at ``1 - 0.05 / 12`` each
(Bonferroni over the 12 comparisons, three settings x four fixes, for a family-wise error of 5%).
**Secondary**, reported and not judged: the paired differences of input dependence
(``val_swap_input``), offset share, ``|rho|`` with the target and the novelty loss: whether a fix keeps
what the note's penalties ask for.

**The note's horizon** (:func:`horizon_configs`): AdamW's decay time at the note's lr 1e-3 and wd 0.01 is
``1 / (lr wd)`` = 10^5 steps. The note's setting is trained to ``lr * wd * t = 1.024`` (102,400 steps
at batch 8) with three seed pairs (model seeds 0, 1, 2; data seed 1234), and beside it the best and
the worst fix by :func:`rank_fixes` (the mean over the three settings of each fix's mean paired
primary difference), the same seeds. Read descriptively at n = 3: each run's level at every epoch and
whether it sounds at the end; "the note's setting goes quiet at its own horizon" holds when all three
of its runs end below the target's level (``COLLAPSE.quiet_below_db``). It runs as a resumable
campaign whose records the repository stores; CI re-derives a prefix of some of them exactly.

Not registered here: a new version of the remedy score validated on a trained positive control (the
score's verdicts are not among this registration's); the fixes are judged on level, constancy and
input dependence only. At n = 10 and ``1 - 0.05 / 12`` (99.58%), each BCa interval's ends rest on the
about 21 most extreme of the 9,999 resamples on each side, so the correction widens the intervals by
roughly half against 95%.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

from resmix.config import Experiment
from resmix.criteria import COLLAPSE, CONSTANCY, FIX, REMEDY, STATS, VERDICT_RULES
from resmix.measure.stats import PairedDifference, paired_difference, values_by_seeds

from .first import DATA_SEEDS, SEEDS, VARIANCE_WEIGHT
from .second import DECAY_ROAD, EPS_ROAD, REMEDY_WEIGHT, SEED_SETTING, collapse_configs2
from .second import replicate as _replicate

SETTINGS = (SEED_SETTING, EPS_ROAD, DECAY_ROAD)
BASELINE = "none"
FIXES: dict[str, dict[str, dict[str, Any]]] = {
    "waveform MSE 0.01": {"loss": {"reconstruction": REMEDY_WEIGHT, "recon_kind": "mse"}},
    "MR-STFT 0.01": {"loss": {"reconstruction": REMEDY_WEIGHT, "recon_kind": "mrstft"}},
    "no decay on gains and biases": {"train": {"decay": "weights"}},
    "level floor": {"loss": {"variance": VARIANCE_WEIGHT, "variance_gamma": 1.0}},
}
COMPARISONS = len(SETTINGS) * len(FIXES)  # the family the Bonferroni correction covers: 12
HORIZON_STEPS = 102400  # lr 1e-3 x wd 0.01 x 102,400 steps = 1.024 time constants of AdamW's decay
HORIZON_SEEDS = (0, 1, 2)  # model seeds of the horizon runs, at the first data seed
SECONDARY = ("val_swap_input", "val_offset_share", "val_abs_corr_target", "val_loss_novelty")


def fix_configs(exp: Experiment) -> dict[tuple[str, str], Experiment]:
    """``{(setting, fix): experiment}`` from a profile ``exp``: every setting bare (``fix == "none"``)
    and with each fix of ``FIXES``."""
    out = {}
    for setting, base in collapse_configs2(exp).items():
        out[setting, BASELINE] = replace(base, name=f"fix {setting} | {BASELINE}")
        for fix, change in FIXES.items():
            out[setting, fix] = replace(base.with_(**change), name=f"fix {setting} | {fix}")
    return out


def replicate(exp: Experiment, seeds: Sequence[int] = SEEDS, data_seeds: Sequence[int] = DATA_SEEDS) -> list[Experiment]:
    """``exp`` once per (model seed, data seed), as :func:`resmix.registrations.first.replicate`."""
    return _replicate(exp, seeds, data_seeds)


def campaign(exp: Experiment) -> dict[tuple[str, str], list[Experiment]]:
    """Every run of the fixes' test: :func:`fix_configs`, each replicated over the seed pairs (150 runs)."""
    return {k: replicate(e) for k, e in fix_configs(exp).items()}


def level_error(h: Any) -> float:
    """The primary metric: the final output's level distance from the target's, ``|level re target|`` in dB."""
    return abs(h.last["val_rms_ratio_db"])


def mean_final(runs: Sequence[Any], metric: str) -> float:
    """The mean over ``runs`` of ``metric``'s final value."""
    return sum(h.last[metric] for h in runs) / len(runs)


def sounds(h: Any) -> bool:
    """A run's final output is at a usable level (within ``REMEDY.level_band_db`` of the target's), not
    near-constant (``CONSTANCY``) and input-dependent (``val_swap_input >= REMEDY.swap_floor``)."""
    r = h.last
    return (abs(r["val_rms_ratio_db"]) <= REMEDY.level_band_db and not CONSTANCY.near_constant(r["val_offset_share"])
            and r["val_swap_input"] >= REMEDY.swap_floor)


@dataclass(frozen=True)
class FixResult:
    """One (setting, fix) comparison (:func:`fix_verdict`)."""

    verdict: str  # "fixes", "brings closer", "no difference", "moves away" or "inconclusive"
    closer: PairedDifference  # |baseline level| - |fix level|, dB, at the Bonferroni confidence
    level_fix: float  # mean final level re target of the fix's runs, dB
    level_baseline: float  # ... of its baseline's runs
    sound_share: float  # share of the fix's runs that sound
    baseline_sound_share: float
    secondary: dict[str, PairedDifference]  # fix - baseline of each SECONDARY metric, 95% intervals
    n: int  # seed pairs


_READING = {"above": "brings closer", "below": "moves away", "within": "no difference", "straddles": "inconclusive"}


def fix_verdict(baseline: Sequence[Any], fixed: Sequence[Any], comparisons: int = COMPARISONS) -> FixResult:
    """A fix against its own baseline, paired by (model seed, data seed). The interval of the mean of
    ``|baseline| - |fix|`` is two-sided at ``FIX.confidence(comparisons)``: *brings closer* when it lies
    above ``STATS.level_margin_db``, *moves away* when below ``-STATS.level_margin_db``, *no difference*
    when inside, *inconclusive* otherwise; **fixes** when it brings closer and at least
    ``VERDICT_RULES.min_share`` of the fix's runs sound. Fixed before the runs."""
    base = {k: abs(v) for k, v in values_by_seeds(baseline, "val_rms_ratio_db").items()}
    fix = {k: abs(v) for k, v in values_by_seeds(fixed, "val_rms_ratio_db").items()}
    closer = paired_difference(base, fix, confidence=FIX.confidence(comparisons))
    reading = _READING[closer.verdict(STATS.level_margin_db)]
    share = sum(map(sounds, fixed)) / len(fixed)
    if reading == "brings closer" and share >= VERDICT_RULES.min_share:
        reading = "fixes"
    mean = lambda hs: sum(h.last["val_rms_ratio_db"] for h in hs) / len(hs)  # noqa: E731
    secondary = {m: paired_difference(values_by_seeds(fixed, m), values_by_seeds(baseline, m)) for m in SECONDARY}
    return FixResult(reading, closer, mean(fixed), mean(baseline), share, sum(map(sounds, baseline)) / len(baseline),
                     secondary, closer.n)


def verdicts(runs: Mapping[tuple[str, str], Sequence[Any]]) -> dict[tuple[str, str], FixResult]:
    """Every (setting, fix) of ``runs`` (keyed as :func:`campaign`) against its setting's baseline."""
    return {(s, f): fix_verdict(runs[s, BASELINE], hs) for (s, f), hs in runs.items() if f != BASELINE}


def group(histories: Sequence[Any], exp: Experiment) -> dict[tuple[str, str], list[Any]]:
    """A campaign's runs sorted into :func:`campaign`'s cells (``{(setting, fix): runs}``) by their keys;
    ValueError names a registered run that is missing and a run that is not registered."""
    from resmix.study.keys import run_key
    by_key = {run_key(h.experiment): h for h in histories}
    cells = campaign(exp)
    want = {run_key(e): k for k, es in cells.items() for e in es}
    if missing := set(want) - set(by_key):
        raise ValueError(f"{len(missing)} registered runs are missing, e.g. {want[min(missing)]} ({min(missing)})")
    if extra := set(by_key) - set(want):
        raise ValueError(f"{len(extra)} runs are not this registration's, e.g. {by_key[min(extra)].experiment.name!r}")
    return {k: [by_key[run_key(e)] for e in es] for k, es in cells.items()}


def rank_fixes(results: Mapping[tuple[str, str], FixResult]) -> tuple[str, str]:
    """The best and the worst fix: the largest and smallest mean over the settings of the mean paired
    primary difference (ties broken by ``FIXES``' order)."""
    score = {f: sum(results[s, f].closer.mean for s in SETTINGS) / len(SETTINGS) for f in FIXES}
    order = sorted(FIXES, key=lambda f: -score[f])
    return order[0], order[-1]


def horizon_configs(exp: Experiment, best: str, worst: str) -> dict[str, list[Experiment]]:
    """``{arm: runs}``: the note's setting to ``HORIZON_STEPS`` steps, bare and with the ``best`` and the
    ``worst`` fix (names of ``FIXES``), each at the ``HORIZON_SEEDS`` model seeds and the first data seed."""
    setting = collapse_configs2(exp)[SEED_SETTING]
    per_epoch = -(-setting.data.n_train // setting.train.batch_size)
    if HORIZON_STEPS % per_epoch:
        raise ValueError(f"the horizon of {HORIZON_STEPS} steps is not a whole number of epochs of {per_epoch} steps")
    long = setting.with_(train={"epochs": HORIZON_STEPS // per_epoch})
    arms = {BASELINE: long, **{f: long.with_(**FIXES[f]) for f in dict.fromkeys((best, worst))}}
    return {arm: replicate(replace(e, name=f"horizon {SEED_SETTING} | {arm}"), HORIZON_SEEDS, DATA_SEEDS[:1])
            for arm, e in arms.items()}


def goes_quiet_at_horizon(runs: Sequence[Any]) -> bool:
    """"The note's setting goes quiet at its own horizon": every run ends below the target's level."""
    return all(COLLAPSE.quiet(h.last["val_rms_ratio_db"]) for h in runs)


__all__ = ["SETTINGS", "BASELINE", "FIXES", "COMPARISONS", "HORIZON_STEPS", "HORIZON_SEEDS", "SECONDARY",
           "fix_configs", "replicate", "campaign", "group", "level_error", "mean_final", "sounds", "FixResult", "fix_verdict", "verdicts",
           "rank_fixes", "horizon_configs", "goes_quiet_at_horizon"]
