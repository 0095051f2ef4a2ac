# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py//py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# (ch-real)=
# # 7. Real recordings
#
# Every verdict so far comes from synthetic pairs: generated tones, input and target independent by
# construction. The seed's model worked on real audio. This chapter reruns the configurations the
# book's summary rests on, with the same registered rules, on two real corpora installed by the
# project's own set-up (`resmix.data.corpora`, sources and licenses on the {ref}`attribution page
# <attribution>`):
#
# - **music**: five recordings of real music at 8 kHz; a pair is a clip and the clip that follows it
#   (a continuation), split by track;
# - **chorales**: Bach chorales from the music21 corpus, each voice rendered by FluidSynth with a
#   General-MIDI soundfont; soprano is the input, bass the target, and the **tenor is a real answer**:
#   a third voice that fits the music, copies neither, and is not quiet. Split by chorale.
#
# Unlike the synthetic pairs, real inputs and targets are not independent. Each corpus gets three model
# seeds on one data seed per configuration (the synthetic side reads the chapters' runs with the same
# seeds); with three runs, an interval is their own range (a percentile bootstrap), so a reading is
# *holds*, *changes* or *cannot say*, and says nothing finer than a direction.

# %% tags=["hide-input"]
# Colab or a fresh kernel: install resmix, the version this book was built with, when it is missing.
# tools/install_cell.py writes the source from _config.yml; RESMIX_INSTALL_SOURCE overrides it.
try:
    import resmix  # noqa: F401
except ImportError:
    import importlib, os, subprocess, sys  # noqa: E401
    source = os.environ.get("RESMIX_INSTALL_SOURCE", "git+https://github.com/resmix/resmix@v0.4.0")
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", f"resmix[book] @ {source}"])
    importlib.invalidate_caches()

# %% tags=["hide-input"]
import dataclasses
import os

import numpy as np
import pandas as pd
import torch
from myst_nb import glue

from resmix import study
from resmix.book import plots, readings, run_plans
from resmix.book.claims import Checks, announce, glue_all
from resmix.book.listen import players
from resmix.config import get_profile
from resmix.criteria import REMEDY, REMEDY_V2, REMEDY_V3, STATS, VERDICT_RULES
from resmix.data import answer_clips, corpora, frame, held_out, training_pairs, unframe
from resmix.measure import pearson, score
from resmix.measure.metrics import chroma
from resmix.registrations import first, fourth, second

exp = get_profile()
checks = Checks(exp.profile)
RUNS = "_output/results/protocol"
plan = run_plans.real(exp)
print(announce(exp, run_plans.everything(plan)))
cfgs = {s: dataclasses.replace(exp.data, source=s) for s in run_plans.REAL_SOURCES}
pd.DataFrame({s: {"pieces (train / held out)": f"{len(corpora.describe(c, 'train').pieces)} / {len(corpora.describe(c, 'held_out').pieces)}",
                  "seconds (train / held out)": f"{corpora.describe(c, 'train').seconds:.0f} / {corpora.describe(c, 'held_out').seconds:.0f}",
                  "valid windows (train / held out)": f"{corpora.describe(c, 'train').valid} / {corpora.describe(c, 'held_out').valid}"}
              for s, c in cfgs.items() if s != "synthetic"}).T

# %% [markdown]
# ## The inputs are not independent
#
# The leak's algebra assumed independent input and target of equal RMS: then the zero-learning mix
# $\tfrac12(I+T)$ correlates $1/\sqrt2$ with the target. With a correlation $\rho$ between them it is
# $\sqrt{(1+\rho)/2}$ for equal RMS. Measured on each corpus's held-out clips:

# %%
rows = {}
for s, c in cfgs.items():
    x, y = held_out(c)
    rho = float(pearson(x, y).mean())
    mix = float(pearson(0.5 * (x + y), y).mean())
    rows[s] = {"mean corr(input, target)": rho, "mean |corr(input, target)|": float(pearson(x, y).abs().mean()),
               "corr of the zero-learning mix with the target": mix, "sqrt((1 + rho) / 2)": float(np.sqrt((1 + rho) / 2))}
leak = pd.DataFrame(rows).T
leak.round(3)

# %%
runs = study.run_groups(plan, RUNS, workers=os.cpu_count(), progress=False)
by = {s: {n: runs[f"{s} | {n}"] for n in run_plans.real_configs(exp)} for s in run_plans.REAL_SOURCES}
pd.concat({s: readings.level_table(g) for s, g in by.items()})

# %% [markdown]
# ## The verdicts, side by side
#
# Each statement of the summary, with its rule (the chapters' rules where they have one), on each source:

# %%
def readings_of(s):
    """Each statement's reading on source ``s``: ``(reading, value)``, the reading True, False or None (cannot say)."""
    g = by[s]
    leaky, seed, eps_road, decay = (g[k] for k in (run_plans.LEAKY, second.SEED_SETTING, second.EPS_ROAD, second.DECAY_ROAD))
    d_seed = readings.drift(seed, method="percentile")
    drift_of = lambda hs: {k: v - values_by_seeds(hs, "val_rms_ratio_db", epoch=0)[k]  # noqa: E731
                           for k, v in values_by_seeds(hs, "val_rms_ratio_db").items()}
    roads = paired_difference(drift_of(decay), drift_of(eps_road), method="percentile")
    scored = {n: first.score_runs(g[n], RUNS, REMEDY_V2) for n in ("mse 0.01 (decay road)", "mrstft 0.01 (decay road)", second.POSITIVE)}
    share = {n: float(np.mean([sc.passed for sc in ss])) for n, ss in scored.items()}
    interval = lambda v, up: {"above": up, "below": not up, "within": False}.get(v)  # noqa: E731  (straddles: None)
    corr = float(np.mean([h.last["val_abs_corr_target"] for h in leaky]))
    common = float(np.mean([h.last["val_common_share"] for h in leaky]))
    best_remedy = max(share["mse 0.01 (decay road)"], share["mrstft 0.01 (decay road)"])
    return {
        "penalties cancel the leak (leaky |corr| < 0.1 after training)": (corr < 0.1, corr),
        "the penalised output is one waveform for all clips (common share > 0.9)": (common > 0.9, common),
        "the seed's setting gets louder (drift above +1 dB)": (interval(d_seed.verdict(STATS.level_margin_db), True), d_seed.mean),
        "the seed's setting does not collapse (no run at -20 dB)": (not any(h.last["val_rms_ratio_db"] <= -20 for h in seed),
                                                                    float(np.mean([h.last["val_rms_ratio_db"] for h in seed]))),
        "decay drifts further than the ε road (paired, below -1 dB)": (interval(roads.verdict(STATS.level_margin_db), False), roads.mean),
        "a remedy at 0.01 passes score v2 (80% of its runs)": (best_remedy >= VERDICT_RULES.min_share, best_remedy),
        "the trained positive control passes score v2 (80% of its runs)": (share[second.POSITIVE] >= VERDICT_RULES.min_share,
                                                                           share[second.POSITIVE]),
    }


from resmix.measure.stats import paired_difference, values_by_seeds  # noqa: E402

found = {s: readings_of(s) for s in run_plans.REAL_SOURCES}


def mark(statement, s):
    """holds / changes / cannot say: a real corpus's reading against the synthetic one."""
    real, synthetic = found[s][statement][0], found["synthetic"][statement][0]
    return "cannot say" if real is None or synthetic is None else ("holds" if real == synthetic else "changes")


table = pd.DataFrame({s: {k: (f"{v:.3g} ({'yes' if r else 'no' if r is not None else '?'})" if s == "synthetic"
                              else f"{v:.3g}: {mark(k, s)}") for k, (r, v) in found[s].items()}
                      for s in run_plans.REAL_SOURCES})
table

# %% [markdown]
# ## A real answer through the score
#
# The chorales' tenor is what a model given soprano and bass could answer: it fits the music and copies
# neither. Run through the remedy score as if it were a model's output (both versions), a "model" that
# returns the tenor belonging to each clip's bass (so swapping targets swaps the answer):

# %%
c = cfgs["chorales"]
xc, yc = (frame(w, c.frame_size) for w in held_out(c))
tenor = frame(answer_clips(c), c.frame_size)
rows_of = {tuple(yc[j].flatten().tolist()): j for j in range(len(yc))}  # each held-out bass clip -> its index


def tenor_answers(input, target):
    """The tenor that goes with each clip's bass: what a model that answered the music would output."""
    return torch.stack([tenor[rows_of.get(tuple(t.flatten().tolist()), 0)] for t in target])


answer_scores = {v: score.remedy_score(tenor_answers, xc, yc, c.sample_rate, crit) for v, crit in (("version 1", score.REMEDY), ("version 2", REMEDY_V2))}
pd.DataFrame({v: {k: str(t) for k, t in s.tests().items()} | {"passes": s.passed} for v, s in answer_scores.items()}).T

# %% tags=["remove-cell"]
checks.expect(not answer_scores["version 2"].passed and "spectral" in answer_scores["version 2"].failed,
              "the text says the tenor fails the spectral test of version 2")
glue_all({"tenor_failed": ", ".join(answer_scores["version 2"].failed) or "nothing",
          "tenor_gain": answer_scores["version 2"].spectral.values["envelope_gain"],
          "music_rho": leak.loc["music", "mean |corr(input, target)|"], "chorale_rho": leak.loc["chorales", "mean |corr(input, target)|"]})

# %% [markdown]
# The tenor fails {glue:text}`tenor_failed` (version 2; its envelope is {glue:text}`tenor_gain:.2f` dB closer
# to its own bass than to other clips' basses). The score's spectral test asks for *the target's*
# spectrum: it accepts an output that sounds like its target, not one that answers it. A real
# answer in another register fails it, so the score cannot stand in for "creative" in the seed's
# sense; it can only say whether an output depends on its inputs, copies them, and matches the target's
# spectrum. The next section tests a version registered to pass a real answer.

# %% [markdown]
# ## Can the instrument say yes?
#
# **Not yet.** Version 3 of the score, registered before the tenor or any trained output was scored with
# it, fails the real tenor as well ({glue:text}`v3_tenor_failed`; its harmony gain {glue:text}`v3_tenor_gain:.3f`, p =
# {glue:text}`v3_tenor_p:.3f`, against 0.15 and 0.01), and training by reconstruction alone does not teach
# the model the tenor: {glue:text}`n_learned` of {glue:text}`n_answer` runs learned it (each output is at
# most {glue:text}`max_learned_gain:.2f` dB closer in spectrum to its own clip's tenor than to the other
# clips', against 1 dB), and they give nearly one waveform for every clip (common share {glue:text}`min_common:.2f` or
# more). So the registered reading is **{glue:text}`v3_reading`**: no version of the score passes the real
# answer, and this registration found no trained output that succeeds against which to test it (n =
# {glue:text}`n_answer` model seeds, one data seed).
#
# The fourth registration ({py:mod}`resmix.registrations.fourth`, committed as cf98c35 before the tenor
# or any trained output was scored with version 3) keeps version 2's level, input-dependence and no-copy
# tests and replaces its spectral test: instead of asking for *the target's* spectrum, it asks whether
# the output's pitch classes (a chroma profile, {py:func}`resmix.measure.metrics.chroma`) fit its own
# clip's music, soprano and bass, better than the other clips' music, by a permutation test at p ≤ 0.01
# with a gain of at least 0.15 (set 3.4 standard deviations above what white noise gains, from white
# noise and the phase-randomised target only). First, the known controls under version 3 on the chorales:
# each negative control must fail the test meant to catch it, and the phase-randomised target must pass.

# %%
controls_v3 = score.sanity_table(xc, yc, c.sample_rate, REMEDY_V3)
pd.DataFrame([r.as_dict() for r in controls_v3]).set_index("control")

# %% [markdown]
# The registration asks the same of every source: on each, the controls that should fail do, and the
# positive one passes (problems listed; none is the registered expectation):

# %%
problems_v3 = {s: score.sanity_problems(score.sanity_table(*(frame(w, cf.frame_size) for w in held_out(cf)), cf.sample_rate, REMEDY_V3))
               for s, cf in cfgs.items()}
pd.Series({s: "; ".join(p) or "none: every control as expected" for s, p in problems_v3.items()}, name="version 3").to_frame()

# %% [markdown]
# The real tenor, through all three versions (the same "model" as above):

# %%
versions = {"version 1": REMEDY, "version 2": REMEDY_V2, "version 3": REMEDY_V3}
tenor_scores = {v: score.remedy_score(tenor_answers, xc, yc, c.sample_rate, crit) for v, crit in versions.items()}
pd.DataFrame({v: {k: str(t) for k, t in s.tests().items()} | {"passes": s.passed} for v, s in tenor_scores.items()}).T

# %% [markdown]
# The trained answer: the fixed design given soprano and bass, trained for twice this profile's steps by
# waveform MSE plus MR-STFT alone (weight 1 each, no penalties; AdamW, lr 1e-3, wd 0.01, batch 8) to
# output the tenor of the training windows, three model seeds. Each run is then scored on the held-out
# clips by all three versions, and *learned the answer* when its output is at least 1 dB closer in
# spectrum to its own clip's tenor than to the other clips' tenors (version 1's log-spectral test with
# the tenor as reference, a measure independent of version 3's):

# %%
xt, yt = training_pairs(c)
tenor_train, tenor_held_out = answer_clips(c, "train"), answer_clips(c)
answer_rows, answer_v3, learned_flags = {}, [], []
for seed in fourth.ANSWER_SEEDS:
    model = fourth.trained_answer(exp, seed, xt, yt, tenor_train, RUNS).model
    answer_model = lambda i, t, m=model: m(i, t)[-1]  # noqa: E731  (the model's output: [B, D, T])
    with torch.no_grad():
        out = unframe(answer_model(xc, yc))
        scored = {v: score.remedy_score(answer_model, xc, yc, c.sample_rate, crit) for v, crit in versions.items()}
    gain = fourth.learned_gain(out, tenor_held_out)
    answer_v3.append(scored["version 3"])
    learned_flags.append(gain >= REMEDY.spectral_margin_db)
    answer_rows[f"seed {seed}"] = {"learned gain (dB)": gain, "common share": scored["version 3"].input_dependence.values["common_share"],
                                   "level (dB)": scored["version 3"].level.values["level_db"]} | {
                                       f"passes {v}": s.passed for v, s in scored.items()} | {
                                       "fails (version 3)": ", ".join(scored["version 3"].failed) or "nothing"}
validation = fourth.can_say_yes(tenor_scores["version 3"], answer_v3, learned_flags)
pd.DataFrame(answer_rows).T

# %% tags=["remove-cell"]
v3_tenor = tenor_scores["version 3"]
checks.expect(score.sanity_problems(controls_v3) == [] and not any(problems_v3.values()),
              "the text says every control behaves as expected under version 3, on every source")
checks.expect(not v3_tenor.passed and "spectral" in v3_tenor.failed, "the text says the tenor fails version 3's spectral test")
checks.expect(not any(s.passed for s in tenor_scores.values()), "the text says no version of the score passes the real tenor")
checks.expect(validation.reading == "cannot say" and validation.learned == 0,
              "the text says no trained answer learned the tenor, so the reading is 'cannot say'")
checks.expect(min(r["common share"] for r in answer_rows.values()) > 0.9,
              "the text says the trained answers give nearly one waveform for every clip")
checks.expect(abs(tenor_scores["version 2"].spectral.values["envelope_gain"] - 0.45) < 0.01,
              "the registration's docstring says the tenor's envelope gain under version 2 is 0.45 dB")
glue_all({"v3_tenor_failed": ", ".join(v3_tenor.failed), "v3_tenor_gain": v3_tenor.spectral.values["harmony_gain"],
          "v3_tenor_p": v3_tenor.spectral.values["harmony_p"], "n_learned": validation.learned, "n_answer": validation.n,
          "max_learned_gain": max(r["learned gain (dB)"] for r in answer_rows.values()),
          "min_common": min(r["common share"] for r in answer_rows.values()), "v3_reading": validation.reading})
checks.expect(all(abs(r["level (dB)"]) <= REMEDY_V3.level_band_db for r in answer_rows.values()),
              "the text says the trained answers are not quiet (they pass the level test)")

# %% [markdown]
# ### Why both halves failed (exploratory, measured after the registered runs)
#
# *The tenor.* On these held-out clips the tenor's chroma fits its own clip's music only a little better
# than the other clips' music ({glue:text}`tenor_own_r:.3f` against {glue:text}`tenor_other_r:.3f`, p =
# {glue:text}`v3_tenor_p:.2f`: not distinguishable from chance), and on the second data seed not at all
# ({glue:text}`ctx_gain_2:+.3f`). Two explanations were checked; neither is established:
#
# - *The instrument.* On 1,024-sample clips the chroma's bins lie 7.8 Hz apart, and a low note can fall
#   between pitch classes (a pure G2 lands on F# and G#: `tests/measure/test_metrics.py`). Version 3 was
#   registered with that defect. With each frame zero-padded so that a note's peak lands in its own class
#   (`chroma(..., pad_to=8192)`), the tenor's gain is {glue:text}`pad_gain_1:+.3f` and
#   {glue:text}`pad_gain_2:+.3f` on the two data seeds: the defect does not explain the failure.
# - *The music.* Voices that fit one chord need not share pitch classes: each can take a different chord
#   tone. The tenor fits its own clip's soprano *worse* than other clips' sopranos (by
#   {glue:text}`ts_gain_1:+.3f` and {glue:text}`ts_gain_2:+.3f` on the two data seeds) and its own bass
#   better ({glue:text}`bass_gain_1:+.3f` and {glue:text}`bass_gain_2:+.3f`, above the 0.15 margin on the
#   first only). That is what complementary chord tones would give, but chroma cannot tell it from a
#   measure that misses them; the chorales' notes in the score (music21) could, and that check was not
#   run. Narrowing the test to the bass, chosen after seeing this table, would fit it to one data seed.
#
# Limits of the registration, seen after the runs: its margin was set below a positive control (the
# phase-randomised target) that keeps the target's chroma and so half of its own context, so nothing
# showed that a different voice could reach it; its permutation null includes permutations that leave
# some clips in place, which shrinks the gain by about $(B-1)/B$ (3% at 32 clips); several held-out clips
# come from one chorale, so "other clips" share key and chords, which makes the test conservative; and
# white noise's spread at 32 clips (about 0.04) leaves a real gain of 0.05 indistinguishable from it.
# A test that can pass a real answer likely needs a model of harmony (consonance with the context, chord
# templates), registered before it meets the tenor and judged on clips it has not seen.

# %%
def chroma_fit(a, b):
    """Mean correlation over the 12 pitch classes of each clip's profile in ``a`` with its own clip's in ``b``,
    and with the other clips': ``(own, others)``. Shape: ``[B, 12]`` profiles."""
    a, b = a.double() - a.double().mean(-1, keepdim=True), b.double() - b.double().mean(-1, keepdim=True)
    r = (a @ b.T) / (a.norm(dim=-1, keepdim=True) * b.norm(dim=-1, keepdim=True).T)  # (B, B)
    n = len(r)
    return float(r.diagonal().mean()), float((r.sum() - r.diagonal().sum()) / (n * n - n))


def pitch_class_fits(cfg, pad_to=None):
    """Which voices share pitch classes on ``cfg``'s held-out clips: own clip against other clips."""
    sop, bas = (chroma(w, cfg.sample_rate, pad_to=pad_to) for w in held_out(cfg))
    ten = chroma(answer_clips(cfg), cfg.sample_rate, pad_to=pad_to)
    pairs = {"tenor with its clip's music (version 3)": (ten, 0.5 * (sop + bas)), "tenor with soprano": (ten, sop),
             "tenor with bass": (ten, bas), "soprano with bass": (sop, bas)}
    return {k: chroma_fit(a, b) for k, (a, b) in pairs.items()}


fits = {(seed, pad): pitch_class_fits(dataclasses.replace(c, seed=seed), pad) for seed in first.DATA_SEEDS for pad in (None, 8192)}
pd.DataFrame({(f"data seed {seed}", "padded frames" if pad else "as registered"): {k: v[0] - v[1] for k, v in f.items()}
              for (seed, pad), f in fits.items()}).round(3).rename_axis("gain: own clip - other clips")

# %% tags=["remove-cell"]
S1, S2 = first.DATA_SEEDS
gain = lambda seed, row, pad=None: fits[(seed, pad)][row][0] - fits[(seed, pad)][row][1]  # noqa: E731
own_r, other_r = fits[(S1, None)]["tenor with its clip's music (version 3)"]
checks.expect(abs((own_r - other_r) - v3_tenor.spectral.values["harmony_gain"]) < 0.02,
              "the exploratory table's first row is version 3's statistic")
checks.expect(all(gain(sd, "tenor with its clip's music (version 3)", pad) < REMEDY_V3.harmony_margin
                  for sd in (S1, S2) for pad in (None, 8192)),
              "the text says the tenor stays under the margin on both data seeds, padded or not")
checks.expect(gain(S2, "tenor with its clip's music (version 3)") <= 0, "the text says: on the second data seed not at all")
checks.expect(gain(S1, "tenor with soprano") < 0 and gain(S2, "tenor with soprano") < 0,
              "the text says the tenor fits its own soprano worse than other clips' on both data seeds")
checks.expect(gain(S1, "tenor with bass") >= REMEDY_V3.harmony_margin > gain(S2, "tenor with bass") > 0,
              "the text says the tenor fits its own bass better, above the margin on the first data seed only")
glue_all({"tenor_own_r": own_r, "tenor_other_r": other_r,
          "ctx_gain_2": gain(S2, "tenor with its clip's music (version 3)"),
          "pad_gain_1": gain(S1, "tenor with its clip's music (version 3)", 8192),
          "pad_gain_2": gain(S2, "tenor with its clip's music (version 3)", 8192),
          "ts_gain_1": gain(S1, "tenor with soprano"), "ts_gain_2": gain(S2, "tenor with soprano"),
          "bass_gain_1": gain(S1, "tenor with bass"), "bass_gain_2": gain(S2, "tenor with bass")})

# %% [markdown]
# *The trained answer.* The same loop, budget and model seed learns an answer that its inputs determine:
# trained to output the bass (the target itself), its output is {glue:text}`ident_gain:.1f` dB closer to its
# own clip's bass than to the others', with a common share of {glue:text}`ident_common:.2f`. So the loop can
# learn; what it does not learn is the tenor, not even on its training clips (learned gain
# {glue:text}`train_gain:.2f` dB there). Its final training loss, {glue:text}`final_loss:.2f`, is below
# that of one mean tenor waveform given to every clip ({glue:text}`const_loss:.2f`), but not far below. That
# fits a target the inputs do not determine (many tenors fit a chord, and a reconstruction loss is least
# at their average), without proving it: a longer run or a larger model may learn more. A trained positive
# control that succeeds needs a longer budget, an answer the inputs determine, or a generative objective.

# %%
from resmix.losses.reconstruction import mrstft_loss  # noqa: E402

seed0 = fourth.ANSWER_SEEDS[0]
bass_model = fourth.trained_answer(exp, seed0, xt, yt, yt, RUNS, kind="bass").model  # the same loop, answer = the bass
tenor_run = fourth.trained_answer(exp, seed0, xt, yt, tenor_train, RUNS)  # served from the store
tenor_model = tenor_run.model
with torch.no_grad():
    bass_out = unframe(bass_model(xc, yc)[-1])  # [B, N] held out
    train_out = unframe(tenor_model(frame(xt, c.frame_size), frame(yt, c.frame_size))[-1])  # [n_train, N]
    tenor_frames = frame(tenor_train, c.frame_size)
    mean_tenor = tenor_frames.mean(0, keepdim=True).expand_as(tenor_frames)  # one waveform for every clip
    const_loss = float((mean_tenor - tenor_frames).pow(2).mean() + mrstft_loss(mean_tenor, tenor_frames, c.sample_rate))
ident = score.remedy_score(lambda i, t: bass_model(i, t)[-1], xc, yc, c.sample_rate, REMEDY_V3)
trained_controls = pd.Series({
    "output the bass: learned gain on held-out clips (dB)": fourth.learned_gain(bass_out, unframe(yc)),
    "output the bass: common share": ident.input_dependence.values["common_share"],
    "output the tenor: learned gain on its training clips (dB)": fourth.learned_gain(train_out, tenor_train),
    "output the tenor: final training loss": tenor_run.losses[-1],
    "one mean tenor for every clip: its loss": const_loss})
trained_controls.round(3).to_frame(f"model seed {seed0}")

# %% tags=["remove-cell"]
tc = trained_controls.to_dict()
checks.expect(tc["output the bass: learned gain on held-out clips (dB)"] >= REMEDY.spectral_margin_db
              and tc["output the bass: common share"] < 0.5, "the text says the loop learns the bass")
checks.expect(tc["output the tenor: learned gain on its training clips (dB)"] < REMEDY.spectral_margin_db,
              "the text says the tenor is not learned even on the training clips")
checks.expect(tc["output the tenor: final training loss"] < tc["one mean tenor for every clip: its loss"],
              "the text says the final loss is below the mean tenor's")
glue_all({"ident_gain": tc["output the bass: learned gain on held-out clips (dB)"], "ident_common": tc["output the bass: common share"],
          "train_gain": tc["output the tenor: learned gain on its training clips (dB)"],
          "final_loss": tc["output the tenor: final training loss"], "const_loss": tc["one mean tenor for every clip: its loss"]})

# %% [markdown]
# ## Listen
#
# A second of held-out audio from each corpus: the input, the target (the next clip for music; the bass
# for chorales), the tenor, and each trained model's output (model seed 0), eight clips back to back.

# %% tags=["hide-input"] mystnb={"image": {"alt": "Spectrograms of a second of held-out audio: the input, the target, the tenor where there is one, and each trained configuration's output"}}
for s in ("music", "chorales"):
    ex = corpora.excerpt(cfgs[s])
    x, y = (frame(ex[k], cfgs[s].frame_size) for k in ("input", "target"))
    listen = {"input": ex["input"].flatten(), "target": ex["target"].flatten()}
    if "answer" in ex:
        listen["tenor (a real answer)"] = ex["answer"].flatten()
    for n, hs in by[s].items():
        h = next(h for h in hs if h.experiment.train.seed == 0)
        with torch.no_grad():
            listen[n] = unframe(study.load_model(h.experiment, RUNS)(x, y)[1]).flatten()
    display(players(listen, cfgs[s].sample_rate, f"_output/07_real/{s}"))
    display(plots.spectrograms(listen, cfgs[s].sample_rate))

# %% tags=["remove-cell"]
glue("verdict_table", table, display=False)
marks = [mark(k, s) for s in ("music", "chorales") for k in found[s]]
score_rows = [k for k in found["synthetic"] if "score v2" in k]  # no run passes on any source: they hold by default
mix_gap = float((leak["corr of the zero-learning mix with the target"] - leak["sqrt((1 + rho) / 2)"]).abs().max())
checks.expect(mix_gap < 0.05, "the text says the zero-learning mix correlates with the target as the formula with the mean rho says")
checks.expect(all(mark(k, s) != "changes" for s in ("music", "chorales") for k in score_rows),
              "the text says the score rows read the same on every source")
glue_all({"n_holds": marks.count("holds"), "n_changes": marks.count("changes"), "n_cannot": marks.count("cannot say"),
          "n_marks": len(marks), "n_score_rows": 2 * len(score_rows), "mix_gap": mix_gap, "changed": "; ".join(f"{k} ({s})" for s in ("music", "chorales") for k in found[s]
                                                       if mark(k, s) == "changes") or "none"})

# %% [markdown]
# ## What holds on real audio
#
# Read the table row by row: a statement *holds* on a corpus when the chapters' rule gives there the
# reading it gives on the synthetic pairs, *changes* when it gives another, and *cannot say* when three
# runs leave an interval across the margin. Of {glue:text}`n_marks` readings on the two corpora,
# {glue:text}`n_holds` hold, {glue:text}`n_changes` change ({glue:text}`changed`) and {glue:text}`n_cannot`
# cannot say. {glue:text}`n_score_rows` of those readings are the two score rows, where no run passes on
# any source: they hold by default and add little. Real inputs and targets correlate in magnitude (mean
# |ρ| {glue:text}`music_rho:.2f` for music continuations, {glue:text}`chorale_rho:.2f` for soprano and
# bass) but hardly on average, so the zero-learning mix correlates with the target as the formula with
# the mean $\rho$ says (within {glue:text}`mix_gap:.3f` on every source). Three model seeds on one data
# seed per configuration and corpus: a reading that *holds* says the direction survives real audio at this
# scale, not that the effect has the same size.

# %% tags=["remove-input"]
checks.summary()
