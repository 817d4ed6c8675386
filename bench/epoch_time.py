"""Seconds per epoch of STANDARD (exact backprop) on the paper's network, and what the ledger says the
step did against this machine's measured limits.

Run from the repository root (about 3 minutes with the defaults: 8 configurations x 3 launches):
    python bench/epoch_time.py                     # batch 20 and 1, 1 and 2 threads, SGD and Adam
    python bench/epoch_time.py --batch 1 --threads 1 --optimizer sgd --repeats 5 --json b1.json
    python bench/epoch_time.py --data random       # seeded random data of MNIST shape
    python bench/epoch_time.py --batch 1 --threads 1 --optimizer adam   # STANDARD_S vs its memory bound

Method. Each launch is a fresh process (`--repeats N` of them, one after another) that runs every
selected configuration: build the network (784-1000-1000-1000-10, ReLU, He init, float32), compile
the kernels, take `--warmup-steps` untimed steps, then time a window of `--steps` steps (default: a
fifth of an epoch at batch > 1, 2,000 steps at batch 1), visiting samples in a seeded random order
exactly as engine.fit does. Seconds per epoch are EXTRAPOLATED: window seconds / steps x steps per
epoch (55,000 samples / batch). Printed per configuration: the median (min-max) over launches of
s/epoch; its split into the ledger's phases (forward, backward, update; "other" = the batch gather
and loop outside the ledger's clock); the ledger's multiply-adds and bytes per step; achieved
GFLOP/s (2 FLOPs per MAC, layer products only) and GB/s (all bytes the ledger counts: compulsory
traffic), each as a fraction of the machine's measured peaks (bench/_common.py, from
notes/performance-facts.md); and the step against its memory bound ("x of memory bound"): the bytes
that must move per step (weights and optimiser state, see must_move_passes) at the copy bandwidth
probed in the same process between sub-windows of the timed window (`--probes`).

`--fast-path auto` (default) times what training runs: batch 1 as fused chunks (npmlp/fastpath.py,
the `fused` column), other batches on the reference engine; `--fast-path off` the reference engine.
"""
import argparse
import itertools
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as C  # noqa: E402


def default_steps(batch, n_train):
    return 2000 if batch == 1 else max(1, n_train // (5 * batch))


def must_move_passes(cfg):
    """Passes over the weight matrices a step cannot avoid: the forward pass reads W; the update reads
    and writes W and each optimiser state array of W's shape (plain SGD none, momentum 1, Adam m
    and v); the input gradient can share the update's pass (adam_backward_fused, sgd_backward_fused).
    Adam: 1 + 2 x 3 = 7; plain SGD: 1 + 2 = 3."""
    n_state = {"sgd": 1 if cfg.momentum > 0 else 0, "adam": 2, "adagrad": 1}[cfg.optimizer]
    return 1 + 2 * (1 + n_state)


def measure_config(data, batch, threads, optimizer, args, probe):
    """One configuration in this process: warm up, then `--probes` sub-windows, each preceded by the
    copy-bandwidth probe (and one probe after the last); raw numbers for the JSON."""
    from npmlp import fastpath
    cfg = C.make_config(optimizer, batch, threads, lr=args.lr, hidden=args.hidden, dtype=args.dtype)
    cfg = cfg.with_(fast_path=args.fast_path)
    ts = C.prepare(cfg, data)
    runner = fastpath.make_runner(ts, cfg) if cfg.fast_path != "off" else None
    if runner is not None:
        from kernels import fused_step
        fused_step.warmup()
    n_train = data.train.X.shape[0]
    steps = args.steps or default_steps(batch, n_train)
    warm = args.warmup_steps if args.warmup_steps >= 0 else max(10, steps // 20)
    stream = C.SampleStream(n_train, batch, seed=cfg.seed)
    X, y = data.train.X, data.train.y

    def window(n):
        if runner is None:
            return C.npmlp_window(ts, X, y, stream, n)
        return C.fast_window(ts, runner, X, y, stream, n)[:3]
    window(warm)
    load = C.machine_load()
    wall, times, work, gbs = 0.0, {}, {}, []
    parts = [steps // args.probes + (i < steps % args.probes) for i in range(args.probes)]
    for n in parts:
        gbs.append(probe())
        w, t, k = window(n)
        wall += w
        times = {ph: times.get(ph, 0.0) + v for ph, v in t.items()}
        work = {ph: [a + b for a, b in zip(work.get(ph, [0, 0, 0]), v)] for ph, v in k.items()}
    gbs.append(probe())
    weights = sum(p.W.size for p in ts.params) * np.dtype(cfg.dtype).itemsize
    return {"batch": batch, "threads": threads, "optimizer": optimizer, "lr": cfg.lr,
            "dtype": cfg.dtype, "steps": steps, "warmup_steps": warm,
            "steps_per_epoch": n_train // batch, "wall_seconds": wall, "phase_seconds": times,
            "work": work, "path": "fused" if runner is not None else "reference",
            "weight_bytes": weights, "passes": must_move_passes(cfg), "probe_gbs": gbs,
            "load_average": load}


def derive(r):
    """Per-launch figures of one configuration: s/epoch, phase split, rates and their ratios."""
    per_step = r["wall_seconds"] / r["steps"]
    scale = r["steps_per_epoch"] / r["steps"]            # window -> one epoch (extrapolation)
    work, t = r["work"], r["phase_seconds"]
    macs = C.product_macs(work) / r["steps"]
    nbytes = C.total_bytes(work) / r["steps"]
    gflops = 2 * macs / per_step / 1e9
    gbs = nbytes / per_step / 1e9
    key = (r["dtype"], r["threads"])
    # Backward and update are rated together: which of the two clocks runs the weight gradient
    # depends on the path (batch <= 2: fused into the update; batch-1 SGD: fused into the input
    # gradient's pass over W), so only their sum has a clean time.
    bu_macs = work["backward-input"][0] + work["backward-weight"][0]
    bu_bytes = sum(sum(work[ph][1:]) for ph in ("backward-input", "backward-weight", "update"))
    bu_time = max(t["backward"] + t["update"], 1e-12)
    return {
        "s_epoch": r["wall_seconds"] * scale,
        "split": {ph: t.get(ph, 0.0) * scale
                  for ph in ("forward", "backward", "update", "overhead", "fused")}
        | {"other": r["wall_seconds"] * scale - sum(t.values()) * scale},
        "macs_step": macs, "bytes_step": nbytes, "gflops": gflops, "gbs": gbs,
        "frac_fma_peak": gflops / C.FMA_PEAK_GFLOPS[key],
        "frac_gemm": gflops / C.GEMM_1000_GFLOPS[key],
        "frac_l3": gbs / C.L3_GEMV_GBS[r["threads"]],
        "frac_dram": gbs / C.DRAM_COPY_GBS[r["threads"]],
        "must_gbs": float(np.median(r["probe_gbs"])),
        "x_membound": per_step / (r["passes"] * r["weight_bytes"] / (np.median(r["probe_gbs"]) * 1e9)),
        # per-phase rates need the phase clocks: the fused step has one clock ("fused"), so NaN
        "fwd_gflops": 2 * work["forward"][0] / t["forward"] / 1e9 if t["forward"] else np.nan,
        "fwd_gbs": sum(work["forward"][1:]) / t["forward"] / 1e9 if t["forward"] else np.nan,
        "bwd_upd_gflops": 2 * bu_macs / bu_time / 1e9 if bu_time > 1e-12 else np.nan,
        "bwd_upd_gbs": bu_bytes / bu_time / 1e9 if bu_time > 1e-12 else np.nan,
    }


def run_launch(args):
    """All selected configurations in this one process (a child launch)."""
    data = C.load_bench_data(args.data, args.samples, args.dtype)
    probe = C.CopyProbe(args.probe_mb)
    probe()                                   # first touch outside any measurement
    out = []
    for batch, threads, opt in itertools.product(args.batch, args.threads, args.optimizer):
        out.append(measure_config(data, batch, threads, opt, args, probe))
    return {"data": data.source, "n_train": int(data.train.X.shape[0]), "results": out}


def child_argv(args):
    return C.relaunch_argv(__file__, args, ("data", "dtype", "hidden", "samples", "steps",
                                            "warmup_steps", "fast_path", "probes", "probe_mb"))


def summarise(launches):
    """Group the launches' results by configuration; median (min-max) over launches."""
    rows = []
    for i, first in enumerate(launches[0]["results"]):
        runs = [launch["results"][i] for launch in launches]
        d = [derive(r) for r in runs]
        rows.append({"config": {k: first[k] for k in ("batch", "threads", "optimizer", "lr", "dtype",
                                                       "steps", "warmup_steps", "steps_per_epoch",
                                                       "path", "passes", "weight_bytes")},
                     "launches": runs, "derived": d})
    return rows


def col(ds, key, digits=1, sub=None):
    vals = [x[key][sub] if sub else x[key] for x in ds]
    return C.fmt_range(vals, digits)


def med(ds, key, sub=None):
    return float(np.median([x[key][sub] if sub else x[key] for x in ds]))


def print_report(rows, launches, args):
    n = len(launches)
    net = "-".join(map(str, (784, *args.hidden, 10)))
    print(f"\nSTANDARD {net} ReLU {args.dtype}, data: {launches[0]['data']}; "
          f"{launches[0]['n_train']} samples per epoch")
    print(f"s/epoch is EXTRAPOLATED from a timed window: window s / steps x steps per epoch; "
          f"median (min-max) over {n} launch(es)")
    print(f"{'batch':>5} {'opt':>4} {'thr':>3} {'path':>9} {'steps':>6} {'s/epoch':>22} | "
          f"{'fwd':>6} {'bwd':>6} {'upd':>6} {'fused':>6} {'other':>6}  (s/epoch, medians)")
    for r in rows:
        c, d = r["config"], r["derived"]
        split = " ".join(f"{med(d, 'split', ph):6.2f}"
                         for ph in ("forward", "backward", "update", "fused", "other"))
        print(f"{c['batch']:>5} {c['optimizer']:>4} {c['threads']:>3} {c['path']:>9} {c['steps']:>6} "
              f"{col(d, 's_epoch', 2):>22} | {split}")
    print("\nmemory bound: bytes that must move per step = passes x weight bytes (forward reads W; the "
          "update reads and writes W and its state: Adam 7 passes, plain SGD 3), at the copy "
          f"bandwidth probed in this process between the sub-windows ({args.probe_mb} MB float64 "
          "copy, STREAM counting)")
    print(f"{'batch':>5} {'opt':>4} {'thr':>3} {'path':>9} {'passes':>6} {'MB/pass':>8} "
          f"{'probe GB/s':>18} {'bound s/epoch':>13} {'x of memory bound':>22}")
    for r in rows:
        c, d = r["config"], r["derived"]
        bound = c["passes"] * c["weight_bytes"] / (med(d, "must_gbs") * 1e9) * c["steps_per_epoch"]
        print(f"{c['batch']:>5} {c['optimizer']:>4} {c['threads']:>3} {c['path']:>9} "
              f"{c['passes']:>6} {c['weight_bytes'] / 1e6:>8.2f} {col(d, 'must_gbs'):>18} "
              f"{bound:>13.1f} {col(d, 'x_membound', 2):>22}")
    print("\nledger work per step and achieved rates (medians); peaks from notes/performance-facts.md:")
    print(f"{'batch':>5} {'opt':>4} {'thr':>3} {'MMAC/step':>10} {'MB/step':>8} {'GFLOP/s':>8} "
          f"{'%FMApk':>7} {'%GEMM':>6} {'GB/s':>6} {'%L3':>5} {'xDRAM':>6} | "
          f"{'fwd GF/s':>8} {'fwd GB/s':>8} {'b+u GF/s':>8} {'b+u GB/s':>8}")
    for r in rows:
        c, d = r["config"], r["derived"]
        print(f"{c['batch']:>5} {c['optimizer']:>4} {c['threads']:>3} "
              f"{med(d, 'macs_step') / 1e6:>10.2f} {med(d, 'bytes_step') / 1e6:>8.2f} "
              f"{med(d, 'gflops'):>8.1f} {100 * med(d, 'frac_fma_peak'):>6.0f}% "
              f"{100 * med(d, 'frac_gemm'):>5.0f}% {med(d, 'gbs'):>6.1f} "
              f"{100 * med(d, 'frac_l3'):>4.0f}% {med(d, 'frac_dram'):>6.2f} | "
              f"{med(d, 'fwd_gflops'):>8.1f} {med(d, 'fwd_gbs'):>8.1f} "
              f"{med(d, 'bwd_upd_gflops'):>8.1f} {med(d, 'bwd_upd_gbs'):>8.1f}")
    print("MACs: layer products only (forward, backward-input, backward-weight). Bytes: every operand "
          "read/written once, update included. 'b+u': backward and update rated together, because "
          "the weight gradient runs under either clock depending on the fused path taken.")
    loads = [r["load_average"] for launch in launches for r in launch["results"]]
    print(f"1-minute load average during the windows: {C.fmt_range(loads)} on "
          f"{os.cpu_count()} cores (other processes share the machine: numbers are provisional)")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, nargs="+", default=[20, 1], help="batch sizes (default 20 1)")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts (default 1 2)")
    p.add_argument("--optimizer", nargs="+", default=["sgd", "adam"], choices=["sgd", "adam"])
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: sgd 0.01, adam 1e-3)")
    p.add_argument("--data", default="mnist", choices=["mnist", "random"],
                   help="mnist (fetched/cached by npmlp.data) or seeded random data of MNIST shape")
    p.add_argument("--samples", type=int, default=0, help="use only this many training samples (0 = all)")
    p.add_argument("--hidden", type=C.parse_hidden, default=C.PAPER_HIDDEN,
                   help="hidden sizes (default: the paper's 3x1000)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--steps", type=int, default=0,
                   help="timed steps per window (0 = a fifth of an epoch; 2,000 at batch 1)")
    p.add_argument("--warmup-steps", type=int, default=-1,
                   help="untimed steps before the window (-1 = max(10, steps / 20))")
    p.add_argument("--fast-path", default="auto", choices=["auto", "off"],
                   help="as the training option (default auto: what training runs; batch 1 is fused)")
    p.add_argument("--probes", type=int, default=4,
                   help="sub-windows per configuration, each after a bandwidth probe (default 4)")
    p.add_argument("--probe-mb", type=int, default=400, help="size of the probe's arrays (MB each)")
    p.add_argument("--repeats", type=int, default=3, help="process launches (median and range over them)")
    p.add_argument("--json", help="write every launch's raw numbers and the derived figures here")
    p.add_argument("--child-out", help=argparse.SUPPRESS)  # internal: one launch writes its JSON here
    args = p.parse_args(argv)
    if min(args.batch) < 1 or min(args.threads) < 1 or args.repeats < 1 or args.steps < 0 \
            or args.probes < 1 or args.probe_mb < 1:
        p.error("--batch, --threads, --repeats, --probes and --probe-mb must be >= 1, --steps >= 0")
    return args


def main(argv=None):
    args = parse_args(argv)
    launches, rc = C.child_or_launches(args, run_launch, child_argv(args))
    if launches is None:
        return rc
    rows = summarise(launches)
    print_report(rows, launches, args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"command": sys.argv, "cpu_count": os.cpu_count(), "rows": rows}, f, indent=1)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
