"""Where an ALSH table rebuild's time goes, and how many rows change between two rebuilds.

    python bench/bench_lsh_rebuild.py                 # rebuild parts, 784- and 1000-input layers
    python bench/bench_lsh_rebuild.py --changed       # + rows changed in 100 / 1,000 fused steps

A rebuild of one hidden layer (1000 units, float32, l2_alsh, srp_rademacher, K = 6, L = 5: EDBT's
setting) timed as the separate calls it used to be (lsh.hash_rows + lsh.build_tables, allocating
their temporaries) and as one compiled call around the BLAS product (lsh.rebuild,
kernels/lsh_rebuild.py), interleaved, beside its parts alone: the product W @ planes_by_coord[:d]
((n, d) @ (d, 30), BLAS), P's extra coordinates, the sign packing, the counting sort. Medians of
`--repeats` runs, 1 thread, with the 1-minute load average (other jobs share this machine); the
minimum is the figure to read on a loaded machine: a call of ~1 ms that the scheduler preempts
takes a time slice longer, so medians jump between the two modes.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def parts(n, d, repeats, rng):
    from kernels import lsh
    from kernels.lsh_hash import _srp_pack_rows
    from kernels.lsh_tables import _counting_sort
    from kernels.lsh_transforms import _rows_extension
    W = (rng.standard_normal((n, d)) * 0.03).astype(np.float32)
    t = lsh.make_transform("l2_alsh", shrink_only=True)
    proj = lsh.draw_projection(rng, "srp_rademacher", d + t.m, 6, 5, dtype=np.float32)
    codes, tables = np.empty((5, n), np.int32), lsh.make_tables(5, 6, n)
    ext, work = lsh.make_rebuild_buffers(W, t, proj)
    P = proj.planes_by_coord
    calls = {
        "separate calls (before)": lambda: (lsh.hash_rows(W, t, proj, codes),
                                            lsh.build_tables(codes, tables)),
        "one compiled call (lsh.rebuild)": lambda: lsh.rebuild(W, t, proj, codes, tables, ext, work),
        "  BLAS product alone": lambda: np.matmul(W, P[:d], out=work),
        "  extra coordinates alone": lambda: _rows_extension(W, t.kind, t.U, t.shrink_only, ext),
        "  sign packing alone": lambda: _srp_pack_rows(work, 1.0, ext, P, 6, 5, codes),
        "  counting sort alone": lambda: _counting_sort(codes, tables.offsets, tables.ids)}
    times = {k: [] for k in calls}
    for f in calls.values():
        f()
    for _ in range(repeats):
        for k, f in calls.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: (1e3 * float(np.min(v)), 1e3 * float(np.median(v))) for k, v in times.items()}


def changed_rows(steps_list):
    """Rows of each hidden layer's W that differ after `steps` fused ALSH steps (SGD and Adam)."""
    from _common import SampleStream, load_bench_data
    from method_epoch import fast_window, make_cfg

    from npmlp import fastpath
    from npmlp.runner import build_state
    data = load_bench_data("mnist")
    X, y = data.train.X, data.train.y
    out = []
    for opt in ("sgd", "adam"):
        args = argparse.Namespace(batch=1, optimizer=opt, lr=1e-3, threads=1, hidden="1000,1000,1000")
        cfg = make_cfg("alsh-approx", args, {})
        ts = build_state(cfg, data)
        runner = fastpath.make_runner(ts, cfg)
        stream = SampleStream(len(y), 1, seed=1)
        fast_window(ts, runner, X, y, stream, 500)
        for steps in steps_list:
            before = [p.W.copy() for p in ts.params[:-1]]
            fast_window(ts, runner, X, y, stream, steps)
            out.append((opt, steps, [int((b != p.W).any(axis=1).sum())
                                     for b, p in zip(before, ts.params)]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--changed", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import kernels
    from npmlp.threads import set_threads
    set_threads(1)
    kernels.warmup(("lsh_transforms", "lsh_hash", "lsh_tables", "lsh_rebuild"))
    rng = np.random.default_rng(0)
    shapes = ((1000, 784), (1000, 1000))
    res = [parts(n, d, args.repeats, rng) for n, d in shapes]
    print(f"1 thread, min / median of {args.repeats}, load average {os.getloadavg()[0]:.1f}\n")
    print("| ms per layer | " + " | ".join(f"{n} x {d}" for n, d in shapes) + " |")
    print("|---|" + "---|" * len(shapes))
    for k in res[0]:
        print(f"| {k} | " + " | ".join(f"{r[k][0]:.3f} / {r[k][1]:.3f}" for r in res) + " |")
    if args.changed:
        print("\n| optimiser | fused steps | rows changed per hidden layer (of 1000) |\n|---|---|---|")
        for opt, steps, rows in changed_rows((100, 1000)):
            print(f"| {opt} | {steps} | {', '.join(map(str, rows))} |")


if __name__ == "__main__":
    main()
