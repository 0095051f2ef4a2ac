"""Time training steps of TwoStageModel against an equivalent torch.nn.TransformerEncoder model.

Both models have the same widths, depth, heads, sequence length and batch; they
are timed alternately in the same process so that machine noise hits both.
Prints samples/s for each, their ratio and peak memory (CUDA: allocator peak;
CPU: process max RSS). Run: ``python benchmarks/bench_train.py [--profiles quick full]``;
``--precision fp32 bf16`` times both (default ``auto``: bf16 autocast where the profile's
``train.amp`` asks for it, as ``train`` does); ``--json FILE`` also writes the results.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import time

import torch
from torch import nn

from resmix.config import ModelConfig, get_profile
from resmix.data.framing import frame
from resmix.data.synthetic import make_pairs
from resmix.losses.objective import compute_losses
from resmix.models.two_stage import StageOutputs, TwoStageModel, sinusoidal_positions


class ReferenceStage(nn.Module):
    """A stage built from torch.nn.TransformerEncoder (pre-norm, GELU), same sizes as resmix's."""

    def __init__(self, n_streams: int, cfg: ModelConfig):
        super().__init__()
        self.inp = nn.Linear(n_streams * cfg.dim, cfg.d_model)
        layer = nn.TransformerEncoderLayer(cfg.d_model, cfg.n_heads, cfg.ff_mult * cfg.d_model,
                                           cfg.dropout, activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, cfg.n_layers, norm=nn.LayerNorm(cfg.d_model),
                                             enable_nested_tensor=False)
        self.out = nn.Linear(cfg.d_model, cfg.dim)

    def forward(self, *streams):
        h = self.inp(torch.cat(streams, 1).transpose(1, 2))  # (B, T, C)
        h = h + sinusoidal_positions(h.shape[1], h.shape[2]).to(h.device, h.dtype)
        return self.out(self.encoder(h)).transpose(1, 2)  # (B, D, T)


class ReferenceModel(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.stage1, self.stage2 = ReferenceStage(2, cfg), ReferenceStage(3, cfg)

    def parts(self, x, y):
        b1 = self.stage1(x, y)
        o1 = b1 + 0.5 * (x + y)
        b2 = self.stage2(x, o1, y)
        return StageOutputs(b1, o1, b2, b2 + (x + o1 + y) / 3)


def step_fn(model, exp, x, y, device, amp: bool):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            parts = model.parts(x, y)
        loss = compute_losses(parts, x, y, exp.loss, exp.data.sample_rate).total
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def time_steps(step, n, device):
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / n


def train_flops(exp, batch: int) -> float:
    """Approximate FLOPs of one training step at ``batch`` clips (:func:`resmix.study.schedule.step_flops`)."""
    from resmix.study.schedule import step_flops
    return step_flops(exp.with_(train={"batch_size": batch}))


def bench(profile: str, device: torch.device, rounds: int, steps: int,
          precisions: tuple[str, ...] = ("auto",)) -> list[dict]:
    """One result per precision; every (model, precision) pair is timed in the same rounds."""
    exp = get_profile(profile).with_(model={"residual": "leaky"})
    B = exp.train.batch_size
    xw, yw = make_pairs(B, exp.data, seed=0)
    x, y = frame(xw, exp.data.frame_size).to(device), frame(yw, exp.data.frame_size).to(device)
    torch.manual_seed(0)
    models = {"resmix": TwoStageModel(exp.model).to(device), "nn.TransformerEncoder": ReferenceModel(exp.model).to(device)}
    n_params = {k: sum(p.numel() for p in m.parameters()) for k, m in models.items()}
    amps = {q: exp.train.amp if q == "auto" else q == "bf16" for q in precisions}
    steps_fn = {(k, q): step_fn(m, exp, x, y, device, amp) for q, amp in amps.items() for k, m in models.items()}
    for fn in steps_fn.values():  # warm-up
        time_steps(fn, 3, device)
    times = {k: [] for k in steps_fn}
    for _ in range(rounds):  # alternate, so drift and noise (other users of the machine) hit all alike
        for k, fn in steps_fn.items():
            times[k].append(time_steps(fn, steps, device))
    peak = {}
    for k, fn in steps_fn.items():
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
            time_steps(fn, 2, device)
            peak[k] = torch.cuda.max_memory_allocated() / 2 ** 20
    out = []
    for q, amp in amps.items():
        sps = {k: B / statistics.median(times[k, q]) for k in models}
        out.append({"profile": profile, "precision": "bf16" if amp else "fp32", "batch": B,
                    "gflops_per_step": train_flops(exp, B) / 1e9, "T": exp.data.n_frames, "D": exp.data.frame_size,
                    "d_model": exp.model.d_model, "layers": exp.model.n_layers, "params": n_params,
                    "samples_per_s": sps, "ratio": sps["resmix"] / sps["nn.TransformerEncoder"],
                    "peak_mib": {k: peak[k, q] for k in models if (k, q) in peak}})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profiles", nargs="+", default=["quick", "full"])
    ap.add_argument("--rounds", type=int, default=5, help="alternating timing rounds")
    ap.add_argument("--steps", type=int, default=5, help="training steps per round")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", nargs="+", default=["auto"], choices=["auto", "fp32", "bf16"],
                    help="auto: bf16 autocast where the profile's train.amp is set (as train does)")
    ap.add_argument("--peak-gflops", type=float, default=None,
                    help="the machine's measured matmul peak, to report the fraction reached "
                         "(fp32: about 200 on the 2-core development machine)")
    ap.add_argument("--peak-tflops", type=float, default=None,
                    help="the same in TFLOP/s, for a GPU (bf16: about 790 measured on an H200)")
    ap.add_argument("--json", help="also write the results to this JSON file")
    args = ap.parse_args()
    if args.peak_tflops:
        args.peak_gflops = args.peak_tflops * 1e3
    from resmix.config import resolve_device
    from resmix.training.history import provenance
    device = resolve_device(args.device)
    prov = provenance(device)
    print(f"device {prov['device']} ({prov['device_name']}), torch {prov['torch']}, threads {prov['threads']}")
    results = []
    for r in (r for p in args.profiles for r in bench(p, device, args.rounds, args.steps, tuple(args.precision))):
        r["achieved_gflops"] = {k: r["gflops_per_step"] * v / r["batch"] for k, v in r["samples_per_s"].items()}
        r["fraction_of_peak"] = {k: v / args.peak_gflops for k, v in r["achieved_gflops"].items()} if args.peak_gflops else None
        results.append(r)
        print(f"\n[{r['profile']}, {r['precision']}] batch {r['batch']}, T={r['T']}, D={r['D']}, d_model={r['d_model']}, "
              f"{r['layers']} layers/stage, params {r['params']['resmix']:,} vs {r['params']['nn.TransformerEncoder']:,}")
        for k, v in r["samples_per_s"].items():
            mem = f", peak {r['peak_mib'][k]:.0f} MiB" if k in r["peak_mib"] else ""
            gflops = r["gflops_per_step"] * v / r["batch"]
            frac = f" ({gflops / args.peak_gflops:.0%} of peak)" if args.peak_gflops else ""
            print(f"  {k:<22} {v:10.1f} samples/s, ~{gflops:.1f} GFLOP/s{frac}{mem}")
        print(f"  ratio resmix / nn.TransformerEncoder: {r['ratio']:.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"provenance": prov, "peak_gflops": args.peak_gflops, "results": results}, f, indent=1)
    if device.type == "cpu":
        print(f"\npeak process RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
