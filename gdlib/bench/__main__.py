"""The benchmark's command line: ``python -m gdlib.bench`` (``--help`` lists the options)."""

from __future__ import annotations

import argparse
import os

import torch

from gdlib import bench
from gdlib import device as _device
from gdlib.bench.ensemble import bench_ensembles
from gdlib.bench.levers import bench_levers
from gdlib.bench.setting import bench_setting
from gdlib.bench.settings import SETTINGS


def _parser() -> argparse.ArgumentParser:
    # prog: the usage line reads as it did when the benchmark was gdlib/bench.py (argparse would say __main__.py)
    p = argparse.ArgumentParser(prog="bench.py", description=bench.__doc__.split("\n\n")[0])
    p.add_argument("--only", choices=sorted(SETTINGS), action="append", help="run one setting (repeatable)")
    p.add_argument("--paper-batch", type=int, default=16)
    p.add_argument("--paper-sample-batch", type=int, default=16)
    p.add_argument("--quick-batch", type=int, default=128)
    p.add_argument("--quick-sample-batch", type=int, default=256)
    p.add_argument("--sweep-batch", type=int, default=64, help="batch per model of the ensembles (sweep setting)")
    p.add_argument("--steps", type=int, default=3, help="timed training steps per model (after warm-up)")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--sample-steps", type=int, default=5)
    p.add_argument("--device", default=None)
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: gdlib.device's choice)")
    p.add_argument("--ensembles", type=int, nargs="*", default=[1, 4, 16],
                   help="ensemble sizes K to time at the sweep setting (empty: skip)")
    p.add_argument("--levers", action="store_true",
                   help="only time the training step's levers at the sweep setting against the step before issue 21 "
                        "(run it with --threads 1: the sweeps train one thread per process)")
    return p


def main(argv: list[str] | None = None) -> list[dict]:
    args = _parser().parse_args(argv)
    _device.setup(args.threads)
    if args.levers:
        return _print_levers(args)
    dev = _device.get_device(args.device)
    load0 = _load()
    print(_device.describe(dev))
    print(f"timed: {args.steps} training steps and {args.sample_steps} sampling steps per model after "
          f"{args.warmup} warm-up; reference and ours alternate step by step")
    results = []
    for key in args.only or ["paper", "quick"]:
        batch = args.paper_batch if key == "paper" else args.quick_batch
        sbatch = args.paper_sample_batch if key == "paper" else args.quick_sample_batch
        r = bench_setting(SETTINGS[key](batch, sbatch), dev, args.steps, args.warmup, args.sample_steps)
        results.append(r)
        s = r["setting"]
        print(f"\n== {s.name}; training batch {s.batch}, sampling batch {s.sample_batch}")
        tb, sb = r["train_best"], r["sample_best"]
        print(f"training images/s, median (best): ours {r['train_ours']:.2f} ({tb['ours']:.2f})   "
              f"reference {r['train_ref']:.2f} ({tb['ref']:.2f})   "
              f"ratio {r['train_ours'] / r['train_ref']:.2f}x ({tb['ours'] / tb['ref']:.2f}x)")
        print(f"sampling image-steps/s, median (best): ours {r['sample_ours']:.1f} ({sb['ours']:.1f})   "
              f"reference {r['sample_ref']:.1f} ({sb['ref']:.1f})   "
              f"ratio {r['sample_ours'] / r['sample_ref']:.2f}x ({sb['ours'] / sb['ref']:.2f}x)")
        line = (f"FLOPs per training step {r['flops_per_step'] / 1e9:.1f} G "
                f"({r['flops_per_step'] / s.batch / 1e9:.2f} G per image); "
                f"achieved {r['achieved'] / 1e9:.1f} GFLOP/s")
        if r["peak"]:
            best = 100 * r["achieved_best"] / r["peak"]
            line += (f" = {100 * r['achieved'] / r['peak']:.1f}% (best step {best:.1f}%)"
                     f" of a {r['peak'] / 1e9:.0f} GFLOP/s {_device.compute_dtype(dev)} peak")
        print(line)
        print("step times (s): ours " + ", ".join(f"{t:.2f}" for t in r["times"]["ours"])
              + "; reference " + ", ".join(f"{t:.2f}" for t in r["times"]["ref"]))
    if args.ensembles:
        s = SETTINGS["sweep"](args.sweep_batch, args.sweep_batch)
        ens = bench_ensembles(s, dev, tuple(args.ensembles), args.steps, args.warmup)
        print(f"\n== ensembles at {s.name}; batch {s.batch} per model, K models as one vmapped network")
        for k, r in ens.items():
            print(f"K = {k:2d}: {r['total']:.1f} training images/s in all ({r['per_model']:.1f} per model); plain "
                  f"reference single model {r['ref']:.1f}; K models train {r['total'] / r['ref']:.2f}x as fast as "
                  "one after another")
        results.append({"ensembles": ens})
    print(f"\nload average (1 min) at the end: {_load():.2f} on {_device.usable_cores()} cores "
          f"(started at {load0:.2f}); other jobs slow both sides alike, medians and best steps both shown")
    return results


def _print_levers(args) -> list[dict]:
    s = SETTINGS["sweep"](args.sweep_batch, args.sweep_batch)
    print(_device.describe(torch.device("cpu")))
    print(f"== training step levers at {s.name}, batch {s.batch}; {args.steps} timed steps each after "
          f"{args.warmup} warm-up, round robin")
    rows = bench_levers(s, args.steps, args.warmup)
    for r in rows:
        print(f"{r['images_per_s']:8.1f} images/s  {r['ratio']:.2f}x  {r['lever']}")
    return rows


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return float("nan")


if __name__ == "__main__":
    main()
