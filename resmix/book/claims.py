"""Claims tables: the seed's claim, the value measured, and a verdict the notebook enforces."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

from .tables import table_html

#: The claims table's column names, by :class:`Claim` field.
CLAIM_COLUMNS = {"id": "claim", "claim": "what the seed says", "seed_value": "the seed's figure",
                 "measured": "what this book measures", "verdict": "verdict"}

VERDICTS = ("supported", "partly", "refuted")


@dataclass(frozen=True)
class Claim:
    """One row of a chapter's "What we measured" table."""

    id: str  # C1..C8 in the research notes
    claim: str  # what the seed says, in a few words
    seed_value: str  # the seed's figure, as the seed states it
    measured: str  # the book's measurement, formatted by code
    verdict: str  # supported / partly / refuted

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}; got {self.verdict!r}")


def claims_table(claims: Sequence[Claim]):
    """A pandas DataFrame of the claims, indexed by id."""
    import pandas as pd
    return pd.DataFrame([asdict(c) for c in claims]).set_index("id")


def claims_html(claims: Sequence[Claim]):
    """The claims table as HTML, every cell in full, with the column names of :data:`CLAIM_COLUMNS`."""
    return table_html([asdict(c) for c in claims], CLAIM_COLUMNS, index="id")


def require(claims: Sequence[Claim], expected: Mapping[str, str]) -> None:
    """Fail (AssertionError) if any verdict the text relies on has changed."""
    got = {c.id: c.verdict for c in claims}
    wrong = {k: (v, got.get(k)) for k, v in expected.items() if got.get(k) != v}
    if wrong:
        raise AssertionError("verdicts changed (expected, measured): "
                             + ", ".join(f"{k}: {e} -> {g}" for k, (e, g) in wrong.items())
                             + "; the chapter's text must be revised")


BOOK_PROFILE = "quick"  #: the profile the book's text was written from, and CI runs


class Checks:
    """The claims a chapter's text makes about its numbers, checked where they are computed.

    On the book's profile (:data:`BOOK_PROFILE`, what CI runs) a claim that does not hold fails the
    run (``AssertionError``): the text must be revised. On any other profile (a reader's GPU) it is
    collected instead, so a run of an hour is not lost to a verdict that came out differently at
    that scale; :meth:`summary` shows each such claim and :meth:`require` the measured verdicts
    beside the book's.
    """

    def __init__(self, profile: str, book_profile: str = BOOK_PROFILE):
        self.profile, self.book_profile = profile, book_profile
        self.failed: list[str] = []
        self.verdicts: list[tuple[str, str, str]] = []  # (claim id, the book's verdict, measured)

    @property
    def strict(self) -> bool:
        return self.profile == self.book_profile

    def expect(self, condition: object, claim: str) -> bool:
        """Check one claim of the text; returns whether it holds."""
        ok = bool(condition)
        if not ok:
            if self.strict:
                raise AssertionError(claim)
            self.failed.append(claim)
        return ok

    def require(self, claims: Sequence[Claim], expected: Mapping[str, str]) -> None:
        """:func:`require` on the book's profile; elsewhere, keep each measured verdict beside the book's."""
        if self.strict:
            return require(claims, expected)
        got = {c.id: c.verdict for c in claims}
        self.verdicts += [(k, v, got.get(k, "missing")) for k, v in expected.items()]

    def summary(self):
        """What did not hold at this profile, as HTML (nothing to say on the book's profile)."""
        from html import escape

        from IPython.display import HTML
        if self.strict:
            return HTML("")
        changed = [(k, b, m) for k, b, m in self.verdicts if b != m]
        rows = "".join(f"<li>{escape(c)}</li>" for c in self.failed)
        verdicts = "".join(f"<li>{escape(k)}: the book ({self.book_profile}) says <b>{escape(b)}</b>; "
                           f"measured here <b>{escape(m)}</b></li>" for k, b, m in changed)
        if not rows and not verdicts:
            return HTML(f"<p>At the <code>{escape(self.profile)}</code> profile every claim of this page's text "
                        "holds.</p>")
        return HTML(f"<div class='admonition warning'><p>At the <code>{escape(self.profile)}</code> profile, "
                    f"{len(self.failed)} claim(s) of the text (written from the <code>{escape(self.book_profile)}</code> "
                    f"profile) do not hold and {len(changed)} verdict(s) differ:</p><ul>{verdicts}{rows}</ul></div>")


def announce(exp, runs=(), workers: int | None = None) -> str:
    """One line for a chapter's first output: the profile that runs, its device and the expected time.

    ``runs``: the chapter's training runs (stored ones included: a second execution loads them).
    """
    import os

    from resmix.config import resolve_device
    from resmix.study.schedule import expected_seconds
    runs = list(runs)
    workers = workers or os.cpu_count() or 1
    dev = resolve_device(exp.train.device)
    line = f"profile {exp.profile} on {dev}"
    if runs:
        seconds, measured = expected_seconds(runs, workers)
        n_steps = sum(optimizer_steps(e) for e in runs)
        how = "from the measured throughput" if measured else "projected from FLOP counts, not measured on this device"
        line += (f": {len(runs)} training runs, {n_steps:,} optimizer steps; expected about "
                 f"{max(1, round(seconds / 60))} min of training ({how}; stored runs are loaded, not retrained)")
    return line


def optimizer_steps(exp) -> int:
    """Optimizer steps of a run: ``epochs * ceil(n_train / batch_size)``."""
    return exp.train.epochs * -(-exp.data.n_train // exp.train.batch_size)


def setup_rows(exp) -> list[tuple[str, str, str]]:
    """The training setup of an :class:`~resmix.config.Experiment` as (what, setting, reading of the seed) rows.

    Every value is read from ``exp``; the third column says which reading of the seed's
    words a choice is, or why it was made, where the seed says nothing.
    """
    d, m, lo, t = exp.data, exp.model, exp.loss, exp.train
    spe = -(-d.n_train // t.batch_size)
    decay_on = {"all": "every parameter (biases and norms too)", "weights": "weight matrices only"}[t.decay]
    corr_over = {"clip": "over all D x T samples of clip b", "frame": "over the D samples of each frame, averaged "
                 "over frames", "batch": "pooled over the whole batch"}[lo.corr_axes]
    reference = {"target": "target", "negated": "-target", "difference": "(input - target) / sqrt 2",
                 "product": "input * target at the target's RMS"}[lo.recon_reference]
    return [
        ("optimizer", f"AdamW, lr {t.lr:g}, betas (0.9, 0.999), weight decay {t.weight_decay:g} on "
                      f"{decay_on}, gradient norm clipped at {t.grad_clip:g}",
         "the seed names no optimizer; torch's AdamW defaults"),
        ("batch and steps", f"batch {t.batch_size}; {spe} optimizer steps per epoch; {t.epochs} epochs = "
                            f"{optimizer_steps(exp)} steps", "an epoch is one pass over the training pairs"),
        ("data", f"{d.n_train} training pairs (data seed {d.seed}), {d.n_val} held-out pairs (seed {d.seed + 1}); "
                 f"{d.clip_seconds:g} s at {d.sample_rate} Hz = {d.n_samples} samples, RMS {d.rms:g}, framed to "
                 f"D = {d.frame_size} samples x T = {d.n_frames} frames", "synthetic stand-ins for the seed's audio"),
        ("model", f"two stages of {m.n_layers} pre-norm blocks, width {m.d_model}, {m.n_heads} heads; residual "
                  f"'{m.residual}'; input scale '{m.input_scale}'; output gain {m.output_gain:g}, frozen output scale {m.output_scale:g}"
                  f"{', zero-initialised outputs' if m.zero_init_output else ''}", "the seed's two-stage design"),
        ("loss", f"{lo.anti_correlation:g} AC + {lo.novelty:g} NOV + {lo.reconstruction:g} REC({lo.recon_kind}) + "
                 f"{lo.variance:g} VAR (gamma {lo.variance_gamma:g}), eps = {lo.eps:g}", "the seed: zero reconstruction"),
        ("AC (anti-correlation)", f"mean over clips b of |rho_eps(out_b, target_b)|, rho {corr_over}, "
                                  "rho_eps = cov / (s_out s_target + eps)",
         "'anti-correlation penalty' read as |Pearson| per clip"),
        ("NOV (novelty)", "mean over clips of max(|rho_eps(out_b, input_b)|, |rho_eps(out_b, output1_b)|)",
         "'novelty loss' read as not copying any stream the model was given"),
        ("REC (reconstruction)", f"reference r = {reference}; mse: mean over B x D x T of (out - r)^2; mrstft: "
                                 "spectral convergence + mean |log magnitude difference|, three resolutions",
         "'reconstruction loss' read as matching the target" if lo.recon_reference == "target"
         else "a control task (chapter 3), not the seed's"),
    ]


def setup_html(exp):
    """:func:`setup_rows` as an HTML table, for the chapters that train."""
    return table_html(setup_rows(exp), {"what": "", "setting": "setting", "why": "reading of the seed / why"},
                      index="what")


def glue_all(values: Mapping[str, object]) -> None:
    """``myst_nb.glue(name, value, display=False)`` for every item: the numbers the prose quotes."""
    from myst_nb import glue
    for name, value in values.items():
        if hasattr(value, "item") and getattr(value, "shape", None) == ():  # a NumPy or 0-d torch scalar
            value = value.item()  # so the book formats it as a number, not as "np.float64(...)"
        glue(name, value, display=False)
