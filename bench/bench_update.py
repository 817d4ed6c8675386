"""Where forming the weight gradient by BLAS beats forming it inside the fused update.

    python bench/bench_update.py [--rows 1000] [--cols 1000] [--batches 1 2 3 4 8] [--rounds 7]

npmlp/optim.py forms dW = G^T A (Eq. 1) in one of two ways before an Adam / SGD-momentum / Adagrad
step (plain SGD has its own one-pass paths): for a batch of at most FACTORED_MAX_BATCH samples,
row by row inside the fused update (kernels/update.py:*_factored, N multiply-adds per weight in
Numba); otherwise with one BLAS matmul into a buffer, then the update reads it
(kernels/update.py:*_materialized). This script times both per batch size on one layer, the two
alternating in one process (round by round), and prints the median time per step and the ratio.
Timing only: nothing here decides pass/fail.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import kernels  # noqa: E402
from kernels import update as K  # noqa: E402


def adam_paths(d_out, d_in, n, dtype, rng):
    W = rng.standard_normal((d_out, d_in)).astype(dtype)
    m, v = np.zeros_like(W), np.zeros_like(W)
    G = rng.standard_normal((n, d_out)).astype(dtype)
    A = rng.random((n, d_in)).astype(dtype)
    visit = pos = np.arange(d_out, dtype=np.int64)
    step, corr = np.full(d_out, 1e-3, dtype), np.ones(d_out, dtype)
    consts = (dtype(0.9), dtype(0.999), dtype(1 - 0.9), dtype(1 - 0.999), dtype(1e-8))
    scratch, g = np.empty(d_in, dtype), np.empty((d_out, d_in), dtype)

    def factored():
        K.adam_factored(W, m, v, G, A, visit, pos, step, corr, *consts, scratch)

    def materialized():
        np.matmul(G.T, A, out=g)
        K.adam_materialized(W, m, v, g, visit, pos, step, corr, *consts, scratch)
    return factored, materialized


def timed(fn, reps):
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--cols", type=int, default=1000)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 2, 3, 4, 8])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args(argv)
    kernels.warmup()
    rng = np.random.default_rng(0)
    print(f"Adam step on a {args.rows}x{args.cols} float32 layer, 1 thread; load average "
          f"{os.getloadavg()[0]:.2f} at the start")
    print(f"{'batch':>6}{'factored us':>14}{'BLAS + update us':>18}{'BLAS / factored':>17}")
    for n in args.batches:
        fac, mat = adam_paths(args.rows, args.cols, n, np.float32, rng)
        tf, tm = [], []
        for _ in range(args.rounds):          # alternating windows: drift hits both alike
            tf.append(timed(fac, args.reps))
            tm.append(timed(mat, args.reps))
        f, m = np.median(tf) * 1e6, np.median(tm) * 1e6
        print(f"{n:>6}{f:>14.0f}{m:>18.0f}{m / f:>17.2f}")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
