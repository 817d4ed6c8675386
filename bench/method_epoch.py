"""Seconds per epoch of each training method on the paper's network, split into feedforward,
backpropagation, update and selection overhead, beside what the ledger says each did.

Methods run interleaved in one process (a window of STANDARD, a window of each method, repeat), so
machine drift hits them alike; each window's time is extrapolated to a 55,000-sample epoch. The
output is the issue-4/5 table: per method the median s/epoch over rounds (min-max), the phase split,
the compute reduction and the speed-up over STANDARD in the same rounds.

    python bench/method_epoch.py --batch 1 --optimizer adam                  # EDBT Table 3 setting
    python bench/method_epoch.py --batch 20 --methods standard mc-approx     # EDBT Table 4 setting
    python bench/method_epoch.py --batch 1 --set alsh_select=topfreq --json out.json

Warm-up steps (JIT, page faults, the first ALSH rebuilds) run before any clock starts. ALSH's
rebuild schedule depends on where in the epoch a window falls; windows start at the epoch's
beginning and advance with the rounds, so early rounds see the dense rebuild phase (every 100
samples) and later ones the sparse phase: say which when quoting a number.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from _common import (EPOCH_SAMPLES, SampleStream, fast_window, fmt_range, load_bench_data,  # noqa: E402,E501
                     machine_load, med_range, npmlp_window, product_macs)

from npmlp.config import Config, validate  # noqa: E402
from npmlp.strategies import STRATEGIES  # noqa: E402

# EDBT Tables 3 and 4 (seconds per epoch, MNIST, 3 x 1000, one CPU, PyTorch): total / feedforward /
# backpropagation, as printed in the EDBT 2025 paper.
PAPER_TABLE3 = {"alsh-approx": "807.5 / 168.0 / 356.2", "mc-approx": "422.2 / 28.4 / 111.0",
                "dropout": "196.2 / 32.3 / 131.0", "adaptive-dropout": "225.9 / 59.0 / 132.7",
                "standard": "361.5 / 29.0 / 61.9"}
PAPER_TABLE4 = {"mc-approx": "35.1 / 4.7 / 11.3", "dropout": "42.8 / 4.8 / 8.0",
                "adaptive-dropout": "53.4 / 10.5 / 8.5", "standard": "39.3 / 4.2 / 23.1"}


def parse_sets(pairs):
    out = {}
    for p in pairs:
        key, _, value = p.partition("=")
        out[key] = value
    return out


def make_cfg(method, args, extra):
    base = Config(method=method, batch_size=args.batch, optimizer=args.optimizer,
                  lr=args.lr or (1e-3 if args.optimizer == "adam" else 1e-2), threads=args.threads,
                  hidden=tuple(int(h) for h in args.hidden.split(",")), alsh_recall_every=0, lr_schedule="constant")
    typed = {}
    for key, value in extra.items():
        current = getattr(base, key)
        typed[key] = (value.lower() in ("1", "true")) if isinstance(current, bool) \
            else type(current)(value)
    return validate(base.with_(**typed), tuple(STRATEGIES))


def print_floor_parts(runs, us, parts):
    """The fused rows' step time taken apart, us/step, medians over rounds: each part of the floor
    replayed alone (best of 5), the complete floor (all parts in one loop, best of 5), the draws (as
    Runner.run timed them), and what is left: inside the compiled call (chunk time - floor: control
    flow between kernels) and outside it (step - chunk - draws: Python per chunk, ledger
    accounting, ALSH's table rebuilds, steps run on the reference path)."""
    print("\nfloor by parts, us/step (medians over rounds; 'beyond floor' = in call + outside):\n")
    print(f"| method | us/step | {' | '.join(parts)} | floor (all parts) | draws | in call, beyond "
          "floor | outside the call | beyond floor | beyond floor, best round | chunk calls/window |")
    print("|---|---|" + "---|" * (len(parts) + 7))
    for label, run in runs.items():
        fl = run["floors"]
        if not fl:
            continue
        step = [x["wall"] * us for x in run["windows"]]
        med = lambda v: f"{float(np.median(v)):.1f}" if len(v) else ""   # noqa: E731
        has = "kernels" in fl[0]
        cells = [med([1e6 * f["parts"][p] for f in fl]) if has else "" for p in parts]
        kern = [1e6 * f["kernels"] for f in fl] if has else []
        draws = [1e6 * f["draws"] for f in fl]
        in_call = [1e6 * f["chunk"] - k for f, k in zip(fl, kern)]
        outside = [t - 1e6 * (f["chunk"] + f["draws"]) for t, f in zip(step, fl)]
        beyond = [a + b for a, b in zip(in_call, outside)]
        # the floor is a best of 5 replays: beside the median, the round whose step was fastest
        best = [min(step) - min(kern) - draws[int(np.argmin(step))]] if kern else []
        print(f"| {label} | {med(step)} | {' | '.join(cells)} | {med(kern)} | {med(draws)} | "
              f"{med(in_call)} | {med(outside)} | {med(beyond)} | {med(best)} | "
              f"{med([f['chunks'] for f in fl])} |")


def entries(args, extra):
    """(label, cfg) per timed row: every method on the chosen path, its reference twin with
    --reference, and exact plain SGD on the fast path (the fastest exact batch-1 step) at batch 1."""
    out = []
    for m in args.methods:
        cfg = make_cfg(m, args, extra).with_(fast_path=args.fast_path)
        out.append((m, cfg))
        if args.reference and args.fast_path != "off":
            out.append((f"{m} (ref)", cfg.with_(fast_path="off")))
    if args.batch == 1:
        sgd = argparse.Namespace(**{**vars(args), "optimizer": "sgd", "lr": 1e-2})
        out.append(("exact-sgd", make_cfg("standard", sgd, extra).with_(fast_path="auto")))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--methods", nargs="+", default=list(STRATEGIES), choices=list(STRATEGIES))
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--optimizer", default="adam", choices=("sgd", "adam", "adagrad"))
    ap.add_argument("--lr", type=float, default=0.0, help="default: adam 1e-3, others 1e-2")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--hidden", default="1000,1000,1000")
    ap.add_argument("--data", default="mnist", choices=("mnist", "random"))
    ap.add_argument("--steps", type=int, default=0, help="steps per window (default: 1,000 at "
                    "batch 1, 275 otherwise)")
    ap.add_argument("--warmup-steps", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--floor-steps", type=int, default=300,
                    help="recorded steps the floor replays (per part, every round)")
    ap.add_argument("--fast-path", default="auto", choices=("auto", "off"),
                    help="as the training option: fused batch-1 chunks where a method has them")
    ap.add_argument("--reference", action="store_true",
                    help="also time every method that has a fast path on the reference path")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="extra Config fields for every method, e.g. alsh_select=topfreq")
    ap.add_argument("--json", help="write the raw windows and the table here")
    args = ap.parse_args()
    steps = args.steps or (1000 if args.batch == 1 else 275)
    extra = parse_sets(args.set)

    import kernels
    from kernels import fused_step as KS
    from _floor import TIMED, Floor
    from npmlp import fastpath
    from npmlp.runner import build_state
    from npmlp.threads import set_threads
    set_threads(args.threads)
    kernels.warmup()
    data = load_bench_data(args.data)
    X, y = data.train.X, data.train.y
    runs = {}
    for label, cfg in entries(args, extra):
        ts = build_state(cfg, data)
        stream = SampleStream(len(y), args.batch, seed=1)
        runner = fastpath.make_runner(ts, cfg) if cfg.fast_path != "off" else None
        run = {"ts": ts, "stream": stream, "windows": [], "runner": runner, "floors": []}
        if runner is not None:
            fast_window(ts, runner, X, y, stream, args.warmup_steps)
        if runner is not None and runner.method in (KS.STANDARD, KS.DROPOUT, KS.ALSH):
            # _floor replays kernels/fused_step.py's recorded sets (not TOPK's or another chunk's)
            order = np.concatenate([stream.next() for _ in range(steps)]).astype(np.int64)
            run["floor"] = Floor(runner, ts, X, y, order, args.floor_steps)
        elif runner is None:
            npmlp_window(ts, X, y, stream, args.warmup_steps)
        runs[label] = run
    per_epoch = EPOCH_SAMPLES / (steps * args.batch)
    for r in range(args.rounds):
        for label, run in runs.items():
            ts = run["ts"]
            if run["runner"] is not None:
                drawn = run["runner"].draw_seconds
                wall, times, work, chunks = fast_window(ts, run["runner"], X, y, run["stream"],
                                                        steps)
                draws = (run["runner"].draw_seconds - drawn) / steps
                fl = {"draws": draws, "chunk": times.get("fused", 0.0) / steps,
                      "chunks": chunks}
                if "floor" in run:      # a chunk other than fused_step's has no floor replay
                    fl["parts"], fl["kernels"] = run["floor"].time_parts()
                run["floors"].append(fl)
            else:
                wall, times, work = npmlp_window(ts, X, y, run["stream"], steps)
            exact = sum(ts.ledger.exact_macs(ph, samples=steps * args.batch)
                        for ph in ("forward", "backward-input", "backward-weight"))
            run["windows"].append({"wall": wall * per_epoch,
                                   "phases": {k: v * per_epoch for k, v in times.items()},
                                   "reduction": 1 - product_macs(work) / exact})
        print(f"round {r + 1}/{args.rounds} done (load average {machine_load():.1f})", flush=True)

    rows = []
    us = 1e6 / EPOCH_SAMPLES * args.batch          # s/epoch -> us/step
    print(f"\nbatch {args.batch}, {args.optimizer}, {args.threads} thread(s), {args.data}, "
          f"{steps} steps/window x {args.rounds} rounds, extrapolated to {EPOCH_SAMPLES} samples, "
          f"load average {machine_load():.1f}\n")
    print("| method | s/epoch | us/step | floor us/step | beyond floor us/step | fused | forward | "
          "backward | update | overhead | compute reduction | vs STANDARD | vs exact SGD (fused) "
          "| paper total / ff / bp |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    paper = PAPER_TABLE3 if args.batch == 1 else PAPER_TABLE4
    for label, run in runs.items():
        w = run["windows"]
        ph = {k: fmt_range([x["phases"].get(k, 0.0) for x in w])
              for k in ("fused", "forward", "backward", "update", "overhead")}
        ratios = {}
        for base in ("standard", "exact-sgd"):
            if base in runs and label != base:
                ratios[base] = fmt_range([s["wall"] / x["wall"]
                                          for s, x in zip(runs[base]["windows"], w)], 2) + "x"
        floor = run["floors"] or runs.get(label.replace(" (ref)", ""), {}).get("floors", [])
        step_us = [x["wall"] * us for x in w]
        floor_us = [1e6 * (f["kernels"] + f["draws"]) for f in floor if "kernels" in f]
        beyond = [a - b for a, b in zip(step_us, floor_us)]
        red = med_range([x["reduction"] for x in w])[0]
        row = (f"| {label} | {fmt_range([x['wall'] for x in w])} | {fmt_range(step_us)} | "
               f"{fmt_range(floor_us) if floor_us else ''} | {fmt_range(beyond) if beyond else ''} "
               f"| {ph['fused']} | {ph['forward']} | {ph['backward']} | {ph['update']} | "
               f"{ph['overhead']} | {100 * red:.1f}% | {ratios.get('standard', '')} | "
               f"{ratios.get('exact-sgd', '')} | {paper.get(label, '')} |")
        print(row)
        rows.append({"method": label, "windows": w, "floors": floor})
    print_floor_parts(runs, us, [name for name, _ in TIMED])
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "rows": rows, "time": time.time()}, f, indent=1)


if __name__ == "__main__":
    main()
