"""Whole epochs of ALSH-APPROX (the fast path at batch 1), beside windows of the exact baselines.

bench/method_epoch.py times every method in windows of ~1,000 steps and scales each to an epoch.
For ALSH that misreads the rebuild schedule: its windows start at sample 0 of a never-ending epoch,
so they all fall in the first 10,000 samples, where the EDBT schedule rebuilds every 100 samples
(550 rebuilds per 55,000 samples once scaled), while a real epoch rebuilds every 100 samples for
10,000 and every 1,000 after (146 rebuilds with the one at the epoch's end). Here ALSH runs whole
epochs (start_epoch, every step on the fast path as engine.fit runs them, end_epoch's rebuild)
and, between them, the baselines run windows that are scaled as method_epoch.py scales them (they
have no schedule): STANDARD with the same optimiser (fused) and exact plain SGD (fused, lr 1e-2,
method_epoch.py's "exact-sgd" row). Ratios are per round, interleaved in one process. With
`--batch N` (N > 1) every run takes engine.train_step's path (batch-N active sets for ALSH) and the
baseline is STANDARD_M; the schedule counts samples, so a batch-20 epoch rebuilds as often.

    python bench/alsh_epoch.py --optimizer sgd --lr 1e-3 --rounds 2
    python bench/alsh_epoch.py --batch 20 --rounds 2
    python bench/alsh_epoch.py --optimizer adam --rounds 2 --set alsh_select=topfreq
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from _common import (EPOCH_SAMPLES, SampleStream, fast_window, fmt_range,  # noqa: E402
                     load_bench_data, machine_load, npmlp_window)
from method_epoch import make_cfg, parse_sets  # noqa: E402


def window(ts, runner, X, y, stream, steps):
    """`steps` steps as engine.fit takes them: fused chunks when there is a runner."""
    if runner is None:
        return npmlp_window(ts, X, y, stream, steps)
    return fast_window(ts, runner, X, y, stream, steps)[:3]


def alsh_epoch(ts, runner, X, y, stream, samples, epoch, batch):
    """One whole epoch of `samples` samples: (wall seconds, {phase: seconds}, rebuilds)."""
    st = ts.strategy
    rebuilds = st.rebuilds
    before = dict(ts.ledger.times)
    t0 = time.perf_counter()
    st.start_epoch(epoch, samples)
    window(ts, runner, X, y, stream, samples // batch)
    with ts.ledger.phase("overhead"):
        st.end_epoch(ts.params)
    wall = time.perf_counter() - t0
    return wall, {k: ts.ledger.times[k] - before[k] for k in before}, st.rebuilds - rebuilds


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=1, help="batch size (1: the fused fast path)")
    ap.add_argument("--optimizer", default="adam", choices=("sgd", "adam", "adagrad"))
    ap.add_argument("--lr", type=float, default=0.0, help="default: adam 1e-3, others 1e-2")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--samples", type=int, default=EPOCH_SAMPLES, help="samples per ALSH epoch")
    ap.add_argument("--window", type=int, default=0,
                    help="steps per baseline window (default 2,000 at batch 1, 275 otherwise)")
    ap.add_argument("--data", default="mnist", choices=("mnist", "random"))
    ap.add_argument("--hidden", default="1000,1000,1000")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="extra Config fields for ALSH (and the baselines), e.g. alsh_select=topfreq")
    args = ap.parse_args()
    args.threads = 1
    args.window = args.window or (2000 if args.batch == 1 else 275)
    extra = parse_sets(args.set)

    import kernels
    from npmlp import fastpath
    from npmlp.runner import build_state
    from npmlp.threads import set_threads
    set_threads(1)
    kernels.warmup()
    data = load_bench_data(args.data, samples=args.samples)
    X, y = data.train.X, data.train.y
    sgd = argparse.Namespace(**{**vars(args), "optimizer": "sgd", "lr": 1e-2})
    rows = {"alsh-approx": make_cfg("alsh-approx", args, extra),
            "standard": make_cfg("standard", args, extra)}
    if args.batch == 1:
        rows["exact-sgd"] = make_cfg("standard", sgd, extra)
    runs = {}
    for label, cfg in rows.items():
        cfg = cfg.with_(fast_path="auto")
        ts = build_state(cfg, data)
        runner = fastpath.make_runner(ts, cfg)
        if runner is None and args.batch == 1:
            sys.exit(f"{label}: no fast path ({fastpath.why_not(ts, cfg)})")
        stream = SampleStream(len(y), args.batch, seed=1)
        window(ts, runner, X, y, stream, 50)               # JIT, page faults, first rebuild
        runs[label] = dict(ts=ts, runner=runner, stream=stream, walls=[], phases=[], rebuilds=[])
    for r in range(args.rounds):
        for label, run in runs.items():
            ts, runner, stream = run["ts"], run["runner"], run["stream"]
            if label == "alsh-approx":
                wall, phases, n_rebuilds = alsh_epoch(ts, runner, X, y, stream, args.samples, r + 1,
                                                      args.batch)
                scale = EPOCH_SAMPLES / (args.samples // args.batch * args.batch)
                run["rebuilds"].append(n_rebuilds)
            else:
                wall, phases, _ = window(ts, runner, X, y, stream, args.window)
                scale = EPOCH_SAMPLES / (args.window * args.batch)
            run["walls"].append(wall * scale)
            run["phases"].append({k: v * scale for k, v in phases.items()})
        print(f"round {r + 1}/{args.rounds} done (load average {machine_load():.1f})", flush=True)

    print(f"\nbatch {args.batch}, {args.optimizer}, 1 thread, {args.data}, ALSH: {args.rounds} whole epochs of "
          f"{args.samples} samples (scaled to {EPOCH_SAMPLES}), baselines: windows of {args.window} "
          f"steps; load average {machine_load():.1f}\n")
    print("| method | s/epoch | steps (fused, or the phases) | overhead (rebuilds) | rest | "
          "rebuilds/epoch | vs STANDARD | vs exact SGD |")
    print("|---|---|---|---|---|---|---|---|")
    for label, run in runs.items():
        w = run["walls"]
        # "fused" at batch 1; at batch N the step's phases (forward, backward, update) together
        fused = [sum(v for k, v in p.items() if k != "overhead") for p in run["phases"]]
        over = [p.get("overhead", 0.0) for p in run["phases"]]
        rest = [a - b - c for a, b, c in zip(w, fused, over)]
        ratio = {b: fmt_range([s / x for s, x in zip(runs[b]["walls"], w)], 2) + "x"
                 for b in ("standard", "exact-sgd") if b != label and b in runs}
        print(f"| {label} | {fmt_range(w)} | {fmt_range(fused)} | {fmt_range(over, 2)} | "
              f"{fmt_range(rest, 2)} | {fmt_range(run['rebuilds'], 0) if run['rebuilds'] else ''} | "
              f"{ratio.get('standard', '')} | {ratio.get('exact-sgd', '')} |")


if __name__ == "__main__":
    main()
