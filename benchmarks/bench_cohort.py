"""Per-run training throughput of a cohort of E runs against E separate models, in one process.

For each size (``quick``, ``full``) and cohort size E, times (a) one optimizer step of a cohort of
E runs (``resmix.training.cohort.train_step``: stacked parameters, one AdamW over the rows) and (b) one step
of each of E separate models as 0.3.0 trained them (``TwoStageModel`` + ``compute_losses`` +
``clip_grad_norm_`` + ``torch.optim.AdamW``), in alternating rounds so that machine noise hits both.
Prints the samples/s of the E runs together (E x batch / step time) for each, their ratio (the
per-run speed-up: time per run-step separate / cohort), the achieved GFLOP/s (or TFLOP/s) from the step's
FLOP count (``benchmarks/bench_train.train_flops``) and the fraction of a peak you pass in.

    python benchmarks/bench_cohort.py                       # the sizes and E this device suits
    python benchmarks/bench_cohort.py --sizes quick --cohorts 1 4 16 64 --peak-gflops 100
    python benchmarks/bench_cohort.py --json cohort.json    # keep the numbers
    python benchmarks/bench_cohort.py --parts               # where a quick E=16 cohort step's time goes

Runs use one CPU thread each (``train.threads``, as in a grid); a CUDA device runs both sides on the
GPU. Timing lives here, never in a test.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_train import train_flops  # noqa: E402

from resmix._mkl import matmul_path  # noqa: E402
from resmix.config import get_profile, resolve_device  # noqa: E402
from resmix.data.framing import frame  # noqa: E402
from resmix.data.synthetic import make_pairs
from resmix.losses.objective import compute_losses  # noqa: E402
from resmix.measure.dynamics import make_optimizer  # noqa: E402
from resmix.models.two_stage import TwoStageModel  # noqa: E402
from resmix.training.cohort import _autocast, _Cohort, train_step  # noqa: E402
from resmix.training.history import provenance  # noqa: E402

DEFAULTS = {  # (sizes, cohort sizes, steps per round) that finish in minutes on each kind of device
    "cpu": {"quick": ((1, 4, 16, 64), 3), "full": ((1, 4), 1)},
    "cuda": {"quick": ((1, 4, 16, 64, 256), 10), "full": ((1, 4, 16), 3)},
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _experiments(size: str, E: int, device: str):
    base = get_profile(size).with_(model={"residual": "none"}, train={"device": device})
    return [base.with_(train={"seed": s}, data={"seed": 1000 + s}) for s in range(E)]


def cohort_step(exps, device: torch.device, compile: bool = False):
    c = _Cohort(exps, device, None, None)
    if compile:  # the stacked forward through torch.compile (inductor); the backward comes with it
        import resmix.training.cohort as cohort_module
        cohort_module.forward = torch.compile(cohort_module.forward, dynamic=False)
    bs, sr = exps[0].train.batch_size, exps[0].data.sample_rate
    rows, idx = c.data.index[:, None], torch.arange(bs, device=device)[None].expand(len(exps), bs)
    x, y = c.data.x[rows, idx], c.data.y[rows, idx]
    autocast = _autocast(exps[0], device)
    return lambda: train_step(c, x, y, sr, autocast)


def separate_steps(exps, device: torch.device):
    """E models trained one after another, each step as 0.3.0's training loop took it."""
    steps = []
    for exp in exps:
        torch.manual_seed(exp.train.seed)
        model = TwoStageModel(exp.model).to(device)
        opt = make_optimizer(model, exp.train)
        xw, yw = make_pairs(exp.train.batch_size, exp.data, seed=exp.data.seed)
        x, y = frame(xw, exp.data.frame_size).to(device), frame(yw, exp.data.frame_size).to(device)
        amp = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if exp.train.amp else nullcontext

        def step(model=model, opt=opt, x=x, y=y, exp=exp, amp=amp):
            with amp():
                parts = model.parts(x, y)
            loss = compute_losses(parts, x, y, exp.loss, exp.data.sample_rate).total
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), exp.train.grad_clip)
            opt.step()
        steps.append(step)
    return lambda: [s() for s in steps]


def _time(fn, n: int, device: torch.device) -> float:
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    _sync(device)
    return (time.perf_counter() - t0) / n


def bench(size: str, E: int, steps: int, rounds: int, device: torch.device, compile: bool = False) -> dict:
    exps = _experiments(size, E, str(device))
    fns = {"cohort": cohort_step(exps, device, compile), "separate": separate_steps(exps, device)}
    for fn in fns.values():
        _time(fn, 1, device)  # warm-up
    times = {k: [] for k in fns}
    for _ in range(rounds):  # alternate
        for k, fn in fns.items():
            times[k].append(_time(fn, steps, device))
    exp, bs = exps[0], exps[0].train.batch_size
    flops = train_flops(exp, bs)
    run_step = {k: statistics.median(v) / E for k, v in times.items()}  # seconds per run-step
    return {"size": size, "E": E, "batch": bs, "precision": "bf16" if exp.train.amp else "fp32", "compiled": compile,
            "gflop_per_run_step": flops / 1e9, "ms_per_run_step": {k: 1e3 * v for k, v in run_step.items()},
            "samples_per_s": {k: bs / v for k, v in run_step.items()},  # all E runs together
            "ratio": run_step["separate"] / run_step["cohort"],
            "achieved_gflops": {k: flops / v / 1e9 for k, v in run_step.items()}}


# torch.profiler's CPU operators, grouped into the parts of a step (the first pattern that matches wins)
PARTS = (("matmul", ("bmm", "baddbmm", "addmm", "aten::mm", "matmul", "linear")),
         ("attention", ("softmax", "scaled_dot_product", "_flash_attention")),
         ("losses' FFTs", ("fft",)),
         ("optimizer", ("adamw", "_foreach", "lerp", "addcdiv", "addcmul")),
         ("normalisation", ("layer_norm", "native_layer_norm")),
         ("activation", ("gelu",)))


def parts(size: str = "quick", E: int = 16, steps: int = 5) -> dict[str, float]:
    """Share of a cohort step's self CPU time per part (:data:`PARTS`; the rest is elementwise ops and copies)."""
    from torch.profiler import ProfilerActivity, profile
    step = cohort_step(_experiments(size, E, "cpu"), torch.device("cpu"))
    for _ in range(2):
        step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        wall = (time.perf_counter() - t0) / steps
    shares: dict[str, float] = {}
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    for e in events:
        name = e.key.lower()
        part = next((p for p, keys in PARTS if any(k in name for k in keys)), "elementwise and copies")
        shares[part] = shares.get(part, 0.0) + e.self_cpu_time_total / total
    return {"ms_per_step_profiled": 1e3 * wall, **dict(sorted(shares.items(), key=lambda kv: -kv[1]))}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", choices=["quick", "full"])
    ap.add_argument("--cohorts", nargs="+", type=int, help="cohort sizes E (default: per device, see DEFAULTS)")
    ap.add_argument("--steps", type=int, help="steps per round (default: per device and size)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating timing rounds (median reported)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--peak-gflops", type=float, help="the device's matmul peak for the precision run "
                    "(fp32, one thread of the 2-core development CPU: about 110, benchmarks/bench_peak.py)")
    ap.add_argument("--peak-tflops", type=float, help="the same in TFLOP/s (bf16 on an H200: about 790)")
    ap.add_argument("--compile", action="store_true", help="also time the largest E of each size with the stacked "
                    "forward compiled by torch.compile (pays only where launch overhead dominates: a GPU)")
    ap.add_argument("--parts", action="store_true", help="profile a quick E=16 cohort step instead: "
                    "the share of its time per part (matmul, attention, FFTs, optimizer, ...)")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)
    device = resolve_device(args.device)
    torch.set_num_threads(1)  # one thread a run, as in a grid
    print(f"matmuls on the CPU: {matmul_path()}")
    if args.parts:
        shares = parts()
        print(f"quick cohort step, E=16, profiled: {shares.pop('ms_per_step_profiled'):.1f} ms")
        for part, share in shares.items():
            print(f"  {part:<24}{share:6.1%}")
        return
    peak = args.peak_tflops * 1e3 if args.peak_tflops else args.peak_gflops
    defaults = DEFAULTS["cuda" if device.type == "cuda" else "cpu"]
    prov = provenance(device)
    print(f"device {prov['device']} ({prov['device_name']}), torch {prov['torch']}, threads {prov['threads']}")
    rows = []
    for size in args.sizes or list(defaults):
        cohorts, steps = defaults[size]
        sizes_e = list(args.cohorts or cohorts)
        for E, compiled in [(E, False) for E in sizes_e] + ([(sizes_e[-1], True)] if args.compile else []):
            r = bench(size, E, args.steps or steps, args.rounds, device, compiled)
            r["fraction_of_peak"] = {k: v / peak for k, v in r["achieved_gflops"].items()} if peak else None
            rows.append(r)
            unit, scale = ("TFLOP/s", 1e-3) if device.type == "cuda" else ("GFLOP/s", 1)
            frac = (lambda k: f" ({r['fraction_of_peak'][k]:.1%} of peak)") if peak else (lambda k: "")
            print(f"[{size}, {r['precision']}{', compiled' if compiled else ''}, E={E:>3}] samples/s over the E runs: cohort "
                  f"{r['samples_per_s']['cohort']:9.1f}, separate {r['samples_per_s']['separate']:9.1f}: "
                  f"{r['ratio']:5.2f}x per run | "
                  f"cohort {r['achieved_gflops']['cohort'] * scale:7.2f} {unit}{frac('cohort')}, "
                  f"separate {r['achieved_gflops']['separate'] * scale:7.2f}{frac('separate')}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"provenance": prov, "peak_gflops": peak, "results": rows}, indent=1))


if __name__ == "__main__":
    main()
