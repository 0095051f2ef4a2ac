"""Build (or verify) the real corpora's caches and say how large and how long (``make corpora``).

    python tools/build_corpora.py                 # both corpora at 8 kHz
    python tools/build_corpora.py --rate 16000 music

For each corpus: the build (or verification) time of this call, the time the manifest says the
build took, the cache's size on disk, and per split the pieces, seconds of audio and windows at
the quick profile's clip length that pass the silence rule. Exit 1 when a corpus is not
installed (the message says how to install it).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from resmix.config import DataConfig
from resmix.data import corpora, recordings


def report(source: str, rate: int) -> None:
    start = time.perf_counter()
    _, manifest = recordings.load(source, rate)
    took = time.perf_counter() - start
    folder = recordings.cache_dir(source, rate)
    size = sum(p.stat().st_size for p in Path(folder).iterdir() if p.is_file())
    print(f"{source}: {folder} ({size / 2**20:.0f} MiB); this call {took:.1f} s, "
          f"the build {manifest['build_seconds']} s")
    cfg = DataConfig(source=source, sample_rate=rate)
    for split in corpora.SPLITS:
        info = corpora.describe(cfg, split)
        clips = "pairs of clips" if source == "music" else "windows"
        print(f"  {split}: {len(info.pieces)} pieces, {info.seconds:.0f} s, {info.valid} of {info.candidates} "
              f"{clips} of {cfg.n_samples} samples pass the silence rule")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="*", help=f"any of {', '.join(recordings.VERSIONS)} (default: all)")
    parser.add_argument("--rate", type=int, default=DataConfig().sample_rate, help="sample rate in Hz")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.sources) - set(recordings.VERSIONS))
    if unknown:
        parser.error(f"unknown corpus {', '.join(unknown)}; expected any of {', '.join(recordings.VERSIONS)}")
    missing = 0
    for source in args.sources or list(recordings.VERSIONS):
        try:
            report(source, args.rate)
        except recordings.CorpusMissingError as e:
            print(e, file=sys.stderr)
            missing += 1
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
