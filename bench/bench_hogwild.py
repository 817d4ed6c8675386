"""HOGWILD (`--hogwild T`, npmlp/hogwild.py) against 1 thread on the batch-1 fast path: s/epoch and
speed-up, per method and optimiser, interleaved in one process.

Every (method, optimiser, T) row trains its own run (same seed, same sample order); each round times
a window of every row, T = 1 and T = 2 of the same configuration back to back (their order alternating
between rounds), so machine drift hits them alike. The speed-up is the median of per-round ratios.
The 1-minute load average is printed beside every round: other processes on this 2-core machine
compete with the second thread. "cores got" is the process's CPU time over the window's wall time:
what the threads actually ran (2.0 = both cores throughout; ~1 with 2 threads = the second core was
mostly taken by someone else); CPU s/epoch = s/epoch x cores got, the CPU work per epoch, which
shows whether the threads cost extra work (cache lines of shared rows moving between the cores).

    python bench/bench_hogwild.py                                   # DROPOUT, STANDARD x Adam, SGD
    python bench/bench_hogwild.py --methods dropout --optimizers adam --steps 4000 --rounds 5
    python bench/bench_hogwild.py --dataset random --samples 3000 --steps 200 --rounds 1   # smoke

Windows of STANDARD with Adam (~4 ms per step) take `--steps / 8` steps so a round stays short.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))   # _common; then the repo

from _common import (EPOCH_SAMPLES, SampleStream, fast_window, fmt_range,  # noqa: E402
                     load_bench_data, machine_load, med_range)

from npmlp.config import Config, validate  # noqa: E402
from npmlp.strategies import STRATEGIES  # noqa: E402

# Adam 1e-3 and exact SGD 1e-2 as bench/method_epoch.py; DROPOUT at keep 5% (each kept unit scaled
# by 20 in every layer) diverges within 100 steps with SGD at 1e-2 and 1e-3, so 1e-4 (EDBT's _S rate)
LR = {("dropout", "adam"): 1e-3, ("standard", "adam"): 1e-3, ("dropout", "sgd"): 1e-4,
      ("standard", "sgd"): 1e-2}


def make_cfg(method, optimizer, T, args):
    return validate(Config(method=method, batch_size=1, optimizer=optimizer, lr=LR[method, optimizer],
                           hidden=tuple(int(h) for h in args.hidden.split(",")),
                           lr_schedule="constant", hogwild=T if T > 1 else 0),
                    tuple(STRATEGIES))


def window_steps(method, optimizer, steps):
    return max(steps // 8, 50) if (method, optimizer) == ("standard", "adam") else steps


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--methods", nargs="+", default=["dropout", "standard"])
    ap.add_argument("--optimizers", nargs="+", default=["adam", "sgd"])
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2], help="T values compared")
    ap.add_argument("--hidden", default="1000,1000,1000")
    ap.add_argument("--dataset", default="mnist", choices=("mnist", "random"))
    ap.add_argument("--samples", type=int, default=0, help="keep only this many training samples")
    ap.add_argument("--steps", type=int, default=2000, help="steps per window")
    ap.add_argument("--warmup-steps", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", help="write the raw windows here")
    args = ap.parse_args()

    import kernels
    from npmlp import fastpath
    from npmlp.runner import build_state
    kernels.warmup(("update", "active_forward", "active_backward", "fused_loss", "fused_step"))
    data = load_bench_data(args.dataset, args.samples)
    X, y = data.train.X, data.train.y
    rows = []
    for method in args.methods:
        for opt in args.optimizers:
            for T in args.threads:
                cfg = make_cfg(method, opt, T, args)
                ts = build_state(cfg, data)
                runner = fastpath.make_runner(ts, cfg)
                stream = SampleStream(X.shape[0], 1, seed=0)
                fast_window(ts, runner, X, y, stream, args.warmup_steps)
                rows.append(dict(method=method, opt=opt, T=T, ts=ts, runner=runner, stream=stream,
                                 steps=window_steps(method, opt, args.steps), s_epoch=[],
                                 cores=[]))
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average "
          f"{machine_load():.2f} before the first round")
    loads = []
    for r in range(args.rounds):
        groups = {}
        for row in rows:
            groups.setdefault((row["method"], row["opt"]), []).append(row)
        for group in groups.values():
            for row in (group if r % 2 == 0 else group[::-1]):
                cpu = time.process_time()
                wall, _, _, _ = fast_window(row["ts"], row["runner"], X, y, row["stream"], row["steps"])
                row["s_epoch"].append(wall / row["steps"] * EPOCH_SAMPLES)
                row["cores"].append((time.process_time() - cpu) / wall)
        loads.append(machine_load())
        print(f"# round {r + 1}: load average {loads[-1]:.2f}; " + ", ".join(
            f"{row['method']}/{row['opt']}/T{row['T']} {row['s_epoch'][-1]:.1f}" for row in rows))
    print(f"\nload average over the rounds: {fmt_range(loads, 2)}\n")
    print("| method | optimiser | threads | s/epoch | us/step | speed-up over 1 thread | cores got "
          "| CPU s/epoch |")
    print("|---|---|---|---|---|---|---|---|")
    base = {(row["method"], row["opt"]): row for row in rows if row["T"] == 1}
    for row in rows:
        one = base.get((row["method"], row["opt"]))
        ratios = [a / b for a, b in zip(one["s_epoch"], row["s_epoch"])] if one else []
        m = med_range(row["s_epoch"])[0]
        print(f"| {row['method']} | {row['opt']} | {row['T']} | {fmt_range(row['s_epoch'])} | "
              f"{m / EPOCH_SAMPLES * 1e6:.0f} | "
              f"{fmt_range(ratios, 2) + 'x' if ratios else ''} | {fmt_range(row['cores'], 2)} | "
              f"{fmt_range([s * c for s, c in zip(row['s_epoch'], row['cores'])])} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"loads": loads, "rows": [{k: row[k] for k in ("method", "opt", "T", "steps",
                                                                       "s_epoch", "cores")} for row in rows]},
                      f, indent=1)
    for row in rows:
        if hasattr(row["runner"], "close"):
            row["runner"].close()


if __name__ == "__main__":
    main()
