"""The book's stored campaigns: which registered runs each is, where its records live, how to regenerate it.

Each campaign is too long for CI. ``python tools/campaign.py run NAME`` trains it (resumably) and stores
its records under ``resmix/book/stored/NAME/`` (:mod:`resmix.study.campaigns`), package data; the pages read them with
:func:`load`, and ``tests/book/test_book_campaigns.py`` re-derives the first epochs of one run of every
configuration on every CI run.

Imports from: every layer below.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from resmix.config import Experiment, get_profile
from resmix.registrations import third
from resmix.study.campaigns import load_campaign

ROOT = Path(__file__).resolve().parent / "stored"  # package data: an installed copy serves them too


@dataclass(frozen=True)
class Campaign:
    """A stored campaign: its runs (from a registration) and what it says about itself."""

    name: str
    registration: str  # the module and the commit that registered its runs
    runs: Callable[[], list[Experiment]]
    cost: str  # what regenerating it takes, as measured when it was stored
    trained_by: str  # the commit whose code trained it (the manifest's code_commit is the one that stored it)

    @property
    def folder(self) -> Path:
        return ROOT / self.name

    @property
    def command(self) -> str:
        return f"python tools/campaign.py run {self.name}"


def _fixes() -> list[Experiment]:
    return [e for rs in third.campaign(get_profile("quick")).values() for e in rs]


CAMPAIGNS = {c.name: c for c in (
    Campaign("third-fixes", "resmix.registrations.third, 11533ec", _fixes,
             "150 quick runs of 768 steps (115,200 run-steps): 15.8 minutes on a 2-core CPU, 30 member-minutes",
             "b8bf619"),
)}


def load(name: str):
    """``(manifest, histories)`` of a stored campaign, every file checked (:func:`resmix.study.campaigns.load_campaign`)."""
    return load_campaign(CAMPAIGNS[name].folder)
