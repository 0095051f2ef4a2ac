"""Write report.md of tools/gpu_check.sh from the folder it filled.

    python tools/gpu_report.py OUTDIR [--chapter 01_leaky] [--seconds S] tests=0:95 bench=0:60 ...

Each ``NAME=RC:SECONDS`` is one step's exit status and duration; the step's log is
``OUTDIR/NAME.log``; the benchmark's numbers come from ``OUTDIR/bench.json``, the
machine's from ``OUTDIR/env.txt``.
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path


def _summary(log: Path) -> str:
    """pytest's closing lines ("3 passed, 1 skipped in 2.1s"), or the log's last line."""
    if not log.exists():
        return "no log"
    lines = [line.strip("= ") for line in log.read_text(errors="replace").splitlines() if line.strip()]
    found = [line for line in lines if re.search(r"\d+ (passed|failed|error|skipped)", line)]
    return "; ".join(found) if found else (lines[-1] if lines else "empty log")


def cohort_table(cohort: dict) -> list[str]:
    """Markdown rows of benchmarks/bench_cohort.py: one per size and cohort size E."""
    peak = cohort.get("peak_gflops")
    rows = ["| size | precision | E | samples/s, cohort | samples/s, separate | per-run speed-up | TFLOP/s cohort | of peak |",
            "|---|---|---|---|---|---|---|---|"]
    for r in cohort["results"]:
        frac = f"{r['achieved_gflops']['cohort'] / peak:.1%}" if peak else "-"
        rows.append(f"| {r['size']} | {r['precision']}{' (compiled)' if r.get('compiled') else ''} | {r['E']} "
                    f"| {r['samples_per_s']['cohort']:.0f} | {r['samples_per_s']['separate']:.0f} | {r['ratio']:.2f}x "
                    f"| {r['achieved_gflops']['cohort'] / 1e3:.2f} | {frac} |")
    return rows


def bench_table(bench: dict) -> list[str]:
    """Markdown rows: one per profile, precision and model."""
    peak = bench.get("peak_gflops")
    rows = ["| size | precision | model | samples/s | achieved TFLOP/s | of bf16 peak | ratio to nn.TransformerEncoder | peak MiB |",
            "|---|---|---|---|---|---|---|---|"]
    for r in bench["results"]:
        for model, sps in r["samples_per_s"].items():
            tflops = r["achieved_gflops"][model] / 1e3
            frac = f"{r['achieved_gflops'][model] / peak:.2%}" if peak else "-"
            ratio = f"{r['ratio']:.3f}" if model == "resmix" else ""
            mem = f"{r['peak_mib'][model]:.0f}" if model in r.get("peak_mib", {}) else "-"
            rows.append(f"| {r['profile']} (batch {r['batch']}, d_model {r['d_model']}) | {r['precision']} | {model} "
                        f"| {sps:.1f} | {tflops:.3f} | {frac} | {ratio} | {mem} |")
    return rows


def report(out: Path, steps: dict[str, tuple[int, int]], chapter: str, seconds: int | None) -> str:
    lines = ["# GPU check", ""]
    env = out / "env.txt"
    if env.exists():
        try:
            e = json.loads(env.read_text())
            lines += [f"Machine: {e.get('device_name')} ({e.get('device')}), torch {e.get('torch')}, "
                      f"python {e.get('python')}, resmix {e.get('resmix')}, bf16 supported: {e.get('bf16_supported')}.", ""]
        except json.JSONDecodeError:
            lines += ["Machine: env.txt unreadable:", "", "```", env.read_text()[-1000:], "```", ""]
    what = {"tests": "unit tests (tests/test_cuda.py, then the rest)", "bench": "benchmark, quick and full sizes",
            "cohort": "cohort benchmark (E runs as one model against E separate ones)",
            "chapter": f"chapter {chapter} in the full profile (nbmake)",
            "chapters": "whole chapters in the full profile (nbmake)"}
    lines += ["| step | result | seconds | summary |", "|---|---|---|---|"]
    for name, (rc, secs) in steps.items():
        result = "ok" if rc == 0 else ("timed out" if rc in (124, 137) else f"failed (exit {rc})")
        lines.append(f"| {what.get(name, name)} | {result} | {secs} | {_summary(out / f'{name}.log')} |")
    if seconds is not None:
        lines += ["", f"Total: {seconds} s."]
    bench = out / "bench.json"
    if bench.exists():
        b = json.loads(bench.read_text())
        peak = b.get("peak_gflops")
        lines += ["", "## Benchmark", "", f"Training steps (forward, backward, AdamW); bf16 peak taken as "
                  f"{peak / 1e3:g} TFLOP/s." if peak else "Training steps; no peak given.", "", *bench_table(b)]
    cohort = out / "cohort.json"
    if cohort.exists():
        lines += ["", "## Cohorts", "", "One training step of E runs as one stacked model against E separate models.", "",
                  *cohort_table(json.loads(cohort.read_text()))]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("steps", nargs="*", metavar="NAME=RC:SECONDS")
    ap.add_argument("--chapter", default="01_leaky")
    ap.add_argument("--seconds", type=int)
    args = ap.parse_intermixed_args(argv)
    steps = {}
    for s in args.steps:
        m = re.fullmatch(r"(\w+)=(\d+):(\d+)", s)
        if not m:
            raise SystemExit(f"steps look like tests=0:95 (name=exit status:seconds); got {s!r}")
        steps[m[1]] = (int(m[2]), int(m[3]))
    (args.out / "report.md").write_text(report(args.out, steps, args.chapter, args.seconds))


if __name__ == "__main__":
    main()
