"""Claims tables: the seed's claim, the value measured, and a verdict the notebook enforces."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

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
    """The claims table as HTML with every cell in full (pandas truncates long text in its repr)."""
    import pandas as pd
    from IPython.display import HTML
    with pd.option_context("display.max_colwidth", None):
        return HTML(claims_table(claims).to_html())


def require(claims: Sequence[Claim], expected: Mapping[str, str]) -> None:
    """Fail (AssertionError) if any verdict the text relies on has changed."""
    got = {c.id: c.verdict for c in claims}
    wrong = {k: (v, got.get(k)) for k, v in expected.items() if got.get(k) != v}
    if wrong:
        raise AssertionError("verdicts changed (expected, measured): "
                             + ", ".join(f"{k}: {e} -> {g}" for k, (e, g) in wrong.items())
                             + "; the chapter's text must be revised")
