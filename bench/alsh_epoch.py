"""Whole epochs of ALSH-APPROX on the fast path, beside windows of the exact baselines.

bench/method_epoch.py times every method in windows of ~1,000 steps and scales each to an epoch.
For ALSH that misreads the rebuild schedule: its windows start at sample 0 of a never-ending epoch,
so they all fall in the first 10,000 samples, where the EDBT schedule rebuilds every 100 samples
(550 rebuilds per 55,000 samples once scaled), while a real epoch rebuilds every 100 samples for
10,000 and every 1,000 after (146 rebuilds with the one at the epoch's end). Here ALSH runs whole
epochs (start_epoch, every step on the fast path as engine.fit runs them, end_epoch's rebuild)
and, between them, the baselines run windows that are scaled as method_epoch.py scales them (they
have no schedule): STANDARD with the same optimiser (fused) and exact plain SGD (fused, lr 1e-2,
method_epoch.py's "exact-sgd" row). Ratios are per round, interleaved in one process.

    python bench/alsh_epoch.py --optimizer sgd --lr 1e-3 --rounds 2
    python bench/alsh_epoch.py --optimizer adam --rounds 2 --set alsh_select=topfreq
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from _common import (EPOCH_SAMPLES, SampleStream, fmt_range, load_bench_data,  # noqa: E402
                     machine_load)
from method_epoch import fast_window, make_cfg, parse_sets  # noqa: E402


def alsh_epoch(ts, runner, X, y, stream, samples, epoch):
    """One whole epoch of `samples` steps: (wall seconds, {phase: seconds}, rebuilds)."""
    st = ts.strategy
    rebuilds = st.rebuilds
    before = dict(ts.ledger.times)
    t0 = time.perf_counter()
    st.start_epoch(epoch, samples)
    fast_window(ts, runner, X, y, stream, samples)
    with ts.ledger.phase("overhead"):
        st.end_epoch(ts.params)
    wall = time.perf_counter() - t0
    return wall, {k: ts.ledger.times[k] - before[k] for k in before}, st.rebuilds - rebuilds


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--optimizer", default="adam", choices=("sgd", "adam", "adagrad"))
    ap.add_argument("--lr", type=float, default=0.0, help="default: adam 1e-3, others 1e-2")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--samples", type=int, default=EPOCH_SAMPLES, help="samples per ALSH epoch")
    ap.add_argument("--window", type=int, default=2000, help="steps per baseline window")
    ap.add_argument("--data", default="mnist", choices=("mnist", "random"))
    ap.add_argument("--hidden", default="1000,1000,1000")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="extra Config fields for ALSH (and the baselines), e.g. alsh_select=topfreq")
    args = ap.parse_args()
    args.batch, args.threads = 1, 1
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
            "standard": make_cfg("standard", args, extra), "exact-sgd": make_cfg("standard", sgd, extra)}
    runs = {}
    for label, cfg in rows.items():
        cfg = cfg.with_(fast_path="auto")
        ts = build_state(cfg, data)
        runner = fastpath.make_runner(ts, cfg)
        if runner is None:
            sys.exit(f"{label}: no fast path ({fastpath.why_not(ts, cfg)})")
        stream = SampleStream(len(y), 1, seed=1)
        fast_window(ts, runner, X, y, stream, 50)               # JIT, page faults, first rebuild
        runs[label] = dict(ts=ts, runner=runner, stream=stream, walls=[], phases=[], rebuilds=[])
    for r in range(args.rounds):
        for label, run in runs.items():
            ts, runner, stream = run["ts"], run["runner"], run["stream"]
            if label == "alsh-approx":
                wall, phases, n_rebuilds = alsh_epoch(ts, runner, X, y, stream, args.samples, r + 1)
                scale = EPOCH_SAMPLES / args.samples
                run["rebuilds"].append(n_rebuilds)
            else:
                wall, phases, _, _ = fast_window(ts, runner, X, y, stream, args.window)
                scale = EPOCH_SAMPLES / args.window
            run["walls"].append(wall * scale)
            run["phases"].append({k: v * scale for k, v in phases.items()})
        print(f"round {r + 1}/{args.rounds} done (load average {machine_load():.1f})", flush=True)

    print(f"\nbatch 1, {args.optimizer}, 1 thread, {args.data}, ALSH: {args.rounds} whole epochs of "
          f"{args.samples} samples (scaled to {EPOCH_SAMPLES}), baselines: windows of {args.window} "
          f"steps; load average {machine_load():.1f}\n")
    print("| method | s/epoch | fused | overhead (rebuilds) | rest | rebuilds/epoch | vs STANDARD | "
          "vs exact SGD |")
    print("|---|---|---|---|---|---|---|---|")
    for label, run in runs.items():
        w = run["walls"]
        fused = [p.get("fused", 0.0) for p in run["phases"]]
        over = [p.get("overhead", 0.0) for p in run["phases"]]
        rest = [a - b - c for a, b, c in zip(w, fused, over)]
        ratio = {b: fmt_range([s / x for s, x in zip(runs[b]["walls"], w)], 2) + "x"
                 for b in ("standard", "exact-sgd") if b != label}
        print(f"| {label} | {fmt_range(w)} | {fmt_range(fused)} | {fmt_range(over, 2)} | "
              f"{fmt_range(rest, 2)} | {fmt_range(run['rebuilds'], 0) if run['rebuilds'] else ''} | "
              f"{ratio.get('standard', '')} | {ratio.get('exact-sgd', '')} |")


if __name__ == "__main__":
    main()
