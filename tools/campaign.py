"""Train a stored campaign and store its records: ``python tools/campaign.py run NAME``.

It trains into a scratch folder (``--scratch``, default ``$RESMIX_CACHE/campaigns/NAME`` or
``~/.cache/resmix/campaigns/NAME``: results, weights and checkpoints), so it is resumable: after an
interruption, run the same command again and every run goes on from its last epoch. When all runs are
done, their records alone (each run's JSON with its provenance) are written to ``resmix/book/stored/NAME/``
with a manifest (:mod:`resmix.study.campaigns`); weights and checkpoints stay in scratch.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from resmix.book.campaigns import CAMPAIGNS
from resmix.study.campaigns import run_campaign, store_campaign

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("action", choices=["run"])
    ap.add_argument("name", choices=sorted(CAMPAIGNS))
    ap.add_argument("--scratch", type=Path)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    args = ap.parse_args(argv)
    c = CAMPAIGNS[args.name]
    cache = Path(os.environ.get("RESMIX_CACHE") or Path.home() / ".cache" / "resmix")
    histories = run_campaign(c.runs(), args.scratch or cache / "campaigns" / c.name, workers=args.workers)
    manifest = store_campaign(c.name, histories, c.folder, ROOT, c.registration, c.command)
    print(json.dumps({k: v for k, v in manifest.items() if k != "keys"}, indent=1))


if __name__ == "__main__":
    main()
