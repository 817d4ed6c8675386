"""Batch-N active sets: dense masked products against per-sample sparse kernels, by kept fraction.

One hidden layer's forward, input gradient and weight gradient (the union rows' G^T A for the dense
path, as the optimiser forms it; the row-grouped kernel for the sparse path, as SGD and Adagrad form
it, while Adam forms each row inside its update pass), through the strategy's
own code (strategies/active_set.py with `active_batch` = dense or sparse, DROPOUT's choice frozen
with sel=). The optimiser update is left out: both paths update the same union rows. Windows of the
two paths alternate in one process; the table gives the minimum over rounds per window (the
machine is shared) and the ratio dense / sparse of the minima, with the load average.

    python bench/bench_active_batch.py                         # batch 20, 784-1000 and 1000-1000
    python bench/bench_active_batch.py --batch 10 20 50 --layers 1000x1000 1000x4000
    python bench/bench_active_batch.py --update            # what bounds the step: the Adam update

`--update` times, for the same cases, the optimiser step (Adam, lazy per-row state) on the sparse
path's gradient (rows: the union of the batch's sets, ~64% at batch 20 and 5%) against STANDARD's
(every row, the gradient formed by one BLAS matmul), beside the sparse path's own layer time.

Layer "784x1000" is layer 1 (dense pixel-like input); any other D_inxD_out is a deeper layer whose
input has the same kept fraction per sample as its output (the previous layer's kept units).
The crossover this measures is `SPARSE_MAX_FRACTION` in npmlp/strategies/active_batch.py.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import machine_load  # noqa: E402

from npmlp.config import Config  # noqa: E402
from npmlp.ledger import Ledger  # noqa: E402
from npmlp.params import init_params  # noqa: E402
from npmlp.strategies.base import StepContext  # noqa: E402
from npmlp.strategies.dropout import Dropout  # noqa: E402

FRACTIONS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)


def make_case(d_in, d_out, n, fraction, rng, first):
    """A layer, its input batch and 16 frozen masks; `first`: dense input at layer 0."""
    sizes = [d_in, d_out, 10] if first else [d_in, d_in, d_out, 10]
    params = init_params(sizes, rng, "he", dtype=np.float32)
    l = 0 if first else 1
    if first:
        a = rng.random((n, d_in)).astype(np.float32) * (rng.random((n, d_in)) < 0.19)  # MNIST ~19%
    else:
        a = (rng.random((n, d_in)) * (rng.random((n, d_in)) < fraction)).astype(np.float32)
    masks = [(rng.random((n, d_out)) < fraction).astype(np.float32) / np.float32(fraction)
             for _ in range(16)]
    dout = rng.standard_normal((n, d_out)).astype(np.float32)
    return sizes, params, l, a, masks, dout


def strategy(mode, sizes, params, fraction):
    cfg = Config(method="dropout", dropout_keep=fraction, active_batch=mode,
                 hidden=tuple(sizes[1:-1]))
    return Dropout(cfg, params, Ledger(sizes))


def window(s, l, layer, a, masks, dout, reps, gbuf):
    """reps steps of one layer: forward, backward, and the dense path's weight-gradient matmul."""
    ctx = StepContext(None, a.shape[0], 0)
    t0 = time.perf_counter()
    for i in range(reps):
        out, cache = s.forward(l, a, layer, ctx, sel=masks[i % len(masks)])
        _, grad = s.backward(l, dout, cache, ctx, need_dx=l > 0)
        g = gbuf[:grad.G.shape[1]]                             # the rows, as optim.py forms them
        if grad.pairs is None:
            np.matmul(grad.G.T, grad.A, out=g)                 # (U, N) @ (N, D_in)
        else:
            grad.pairs.fill(g)                                 # from the kept pairs
    return (time.perf_counter() - t0) / reps


def cases(args, rng):
    """(spec, d_in, d_out, n, f, make_case(...)) over the command line's layers, batches, fractions."""
    for spec in args.layers:
        d_in, d_out = (int(v) for v in spec.split("x"))
        for n in args.batch:
            for f in args.fractions:
                yield spec, d_in, d_out, n, f, make_case(d_in, d_out, n, f, rng, spec.startswith("784x"))


def update_window(opt, params, grads, reps):
    t0 = time.perf_counter()
    for _ in range(reps):
        opt.step(params, grads, opt.cfg.lr)
    return (time.perf_counter() - t0) / reps


def update_table(args, rng):
    """Adam on the sparse path's union rows against Adam on every row (STANDARD), per case."""
    from npmlp.optim import make_optimizer
    from npmlp.strategies.base import Standard
    print("| layer | N | kept | union rows | STANDARD: G^T A + Adam, all rows, us | sparse path: layer us "
          "| Adam on the union rows us | union Adam / STANDARD's |")
    print("|---|---|---|---|---|---|---|---|")
    for spec, d_in, d_out, n, f, (sizes, params, l, a, masks, dout) in cases(args, rng):
        s = strategy("sparse", sizes, params, f)
        std = Standard(s.cfg, params, s.ledger)
        layer, ctx = params[l], StepContext(None, n, 0)
        _, cache = s.forward(l, a, layer, ctx, sel=masks[0])
        grad = s.backward(l, dout, cache, ctx, need_dx=False)[1]
        _, scache = std.forward(l, a, layer, ctx)
        sgrad = std.backward(l, dout, scache, ctx, need_dx=False)[1]
        cfg = s.cfg.with_(optimizer="adam", lr=1e-6)
        one = [params[l]]
        opt_s = make_optimizer(cfg, one, sparse_state=True)
        opt_d = make_optimizer(cfg, one, sparse_state=False)
        gbuf = np.empty((d_out, d_in), np.float32)
        t = {"std": [], "sparse": [], "layer": []}
        for _ in range(args.rounds):
            t["std"].append(update_window(opt_d, one, [sgrad], args.reps))
            t["sparse"].append(update_window(opt_s, one, [grad], args.reps))
            t["layer"].append(window(s, l, layer, a, masks, dout, args.reps, gbuf))
        td, ts, tl = (min(t[k]) * 1e6 for k in ("std", "sparse", "layer"))
        print(f"| {spec} | {n} | {100 * f:g}% | {grad.rows.shape[0]} | {td:.0f} | {tl:.0f} | "
              f"{ts:.0f} | {ts / td:.2f} |", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, nargs="+", default=[20])
    ap.add_argument("--layers", nargs="+", default=["784x1000", "1000x1000"])
    ap.add_argument("--fractions", type=float, nargs="+", default=list(FRACTIONS))
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--reps", type=int, default=20, help="steps per window")
    ap.add_argument("--update", action="store_true", help="time the optimiser step instead")
    args = ap.parse_args()

    from npmlp.threads import set_threads
    import kernels
    set_threads(1)
    kernels.warmup()
    rng = np.random.default_rng(0)
    print(f"1 thread, fp32, {args.rounds} rounds x {args.reps} steps per window; load average at "
          f"start {machine_load():.1f}\n")
    if args.update:
        update_table(args, rng)
        print(f"\nload average at end {machine_load():.1f}")
        return
    print("| layer | N | kept | dense masked us | sparse us | dense / sparse |")
    print("|---|---|---|---|---|---|")
    for spec, d_in, d_out, n, f, (sizes, params, l, a, masks, dout) in cases(args, rng):
        runs = {m: strategy(m, sizes, params, f) for m in ("dense", "sparse")}
        gbuf = np.empty((d_out, d_in), np.float32)
        times = {m: [] for m in runs}
        for m, s in runs.items():                              # untimed first window
            window(s, l, params[l], a, masks, dout, 2, gbuf)
        for _ in range(args.rounds):
            for m, s in runs.items():
                times[m].append(window(s, l, params[l], a, masks, dout, args.reps, gbuf))
        td, ts = min(times["dense"]) * 1e6, min(times["sparse"]) * 1e6
        print(f"| {spec} | {n} | {100 * f:g}% | {td:.0f} | {ts:.0f} | {td / ts:.2f}x |", flush=True)
    print(f"\nload average at end {machine_load():.1f}")


if __name__ == "__main__":
    main()
