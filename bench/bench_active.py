"""Microbenchmarks of the active-set kernels (kernels/active_*.py) against dense BLAS on the full problem.

Run (from the repository root; 3-5 minutes on 2 cores):
    python -m pytest bench/bench_active.py --benchmark-only --benchmark-max-time=0.2 \\
        --benchmark-json=bench/active.json
    python bench/bench_active.py bench/active.json        # markdown tables of GFLOP/s, GB/s, speed-ups
    python bench/bench_active.py headline                 # the batch-1 headline, interleaved timing

Grid: op {forward, backward-input, weight-grad} x impl x layer {784->1000, 1000->1000, 1000->10,
1000->10000} x batch {1, 20} x active fraction {1%, 5%, 25%, 100%}, float32 (what training uses).
    dense           numpy BLAS on the full layer, whatever the fraction: forward `x @ W.T + b`
                    (batch 1: GEMV `W @ x`), input gradient `dz @ W`, weight gradient `dz.T @ x`
                    (batch 1: in-place rank-1 `scipy.linalg.blas.sger`; `a.T @ g` is the trap of
                    performance-facts §5.2)
    numpy-ref       the module's plain-NumPy reference (gather + matmul / einsum / add.at)
    numba           the kernel (batch 20: a set per sample, as ALSH draws them)
    numba-parallel  its parallel variant (batch 20 only), Numba's 2 threads
    numpy-shared / numba-shared / numba-shared-parallel: batch 20 with one set for all samples
Also `test_headline_*`: one batch-1 step on a 1000x1000 layer with 5% active (forward + input
gradient + weight gradient) through the kernels vs the dense path, and `test_call_overhead`: a
kernel called on an empty set (the fixed cost of one call).

BLAS is limited to 1 thread (both OpenBLAS copies, numpy's and scipy's: performance-facts §5.2.4)
so dense numbers are the stable single-thread anchors; set NPMLP_BENCH_BLAS_THREADS=2 to compare.
Every kernel is compiled (kernels.active warm-ups) before any clock starts. Each benchmark stores
macs, bytes and the achieved GFLOP/s and GB/s (from the kernels' *_cost functions, compulsory
traffic) in its extra_info.
"""
import itertools
import json
import os
import sys
import time

import numpy as np
import pytest
# Imported before threadpool_limits runs: a BLAS library loaded after it keeps its default threads.
from scipy.linalg.blas import dger, sger

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))   # bench/_common.py

from kernels import active_backward as B  # noqa: E402
from kernels import active_forward as F  # noqa: E402
from kernels import active_weight_grad as G  # noqa: E402
from kernels.cost import Cost, matmul_cost  # noqa: E402
from _common import FMA_PEAK_GFLOPS, L3_GEMV_GBS, machine_load  # noqa: E402

LAYERS = {"784-1000": (784, 1000), "1000-1000": (1000, 1000), "1000-10": (1000, 10), "1000-10000": (1000, 10000)}
FRACTIONS = [0.01, 0.05, 0.25, 1.0]
IMPLS_1 = ["dense", "numpy-ref", "numba"]
IMPLS_N = IMPLS_1 + ["numba-parallel", "numpy-shared", "numba-shared", "numba-shared-parallel"]
DTYPE = np.float32
REF_LIMIT = 100e6        # bytes: the per-sample NumPy reference gathers (N, K, D_in); skip above this
# Each call takes the next of SETS pre-drawn active sets, as training does (a new set per sample):
# with one fixed set its K rows would stay in L2 and flatter the kernels against dense BLAS, whose
# 4 MB (1000 x 1000 fp32) weight matrix never fits there.
SETS = 16


@pytest.fixture(scope="module", autouse=True)
def pinned_blas():
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=int(os.environ.get("NPMLP_BENCH_BLAS_THREADS", "1"))):
        for warm in (F.warmup_active_forward, B.warmup_active_backward, G.warmup_active_weight_grad):
            warm()
        yield


def problem(D_in, D_out, N, frac, seed=0):
    """Seeded layer, inputs and SETS different active sets (unsorted, like ALSH's union of buckets)."""
    rng = np.random.default_rng(seed)
    K = max(1, round(frac * D_out))
    p = dict(K=K, x=rng.standard_normal((N, D_in)).astype(DTYPE),
             W=(rng.standard_normal((D_out, D_in)) / np.sqrt(D_in)).astype(DTYPE),
             b=np.zeros(D_out, DTYPE), dz=rng.standard_normal((N, K)).astype(DTYPE),
             idx_sets=[np.stack([rng.permutation(D_out)[:K] for _ in range(N)]) for _ in range(SETS)])
    dz_full = np.zeros((N, D_out), DTYPE)                 # the dense path sees zeros at inactive units
    np.put_along_axis(dz_full, p["idx_sets"][0], p["dz"], axis=1)
    p["dz_full"] = dz_full
    return p


# the kernel and its reference per (op, impl); batch 1 uses the *_1 kernels
BATCH_1 = {
    ("forward", "numpy-ref"): F.active_forward_1_reference, ("forward", "numba"): F.active_forward_1,
    ("backward-input", "numpy-ref"): B.backward_input_1_reference, ("backward-input", "numba"): B.backward_input_1,
    ("weight-grad", "numpy-ref"): G.weight_grad_scatter_1_reference, ("weight-grad", "numba"): G.weight_grad_scatter_1,
}
BATCH_N = {
    ("forward", "numpy-ref"): F.active_forward_reference, ("forward", "numba"): F.active_forward,
    ("forward", "numba-parallel"): F.active_forward_parallel,
    ("forward", "numpy-shared"): F.active_forward_shared_reference,
    ("forward", "numba-shared"): F.active_forward_shared,
    ("forward", "numba-shared-parallel"): F.active_forward_shared_parallel,
    ("backward-input", "numpy-ref"): B.backward_input_reference, ("backward-input", "numba"): B.backward_input,
    ("backward-input", "numba-parallel"): B.backward_input_parallel,
    ("backward-input", "numpy-shared"): B.backward_input_shared_reference,
    ("backward-input", "numba-shared"): B.backward_input_shared,
    ("weight-grad", "numpy-ref"): G.weight_grad_scatter_reference, ("weight-grad", "numba"): G.weight_grad_scatter,
    ("weight-grad", "numba-parallel"): G.weight_grad_scatter_parallel,
    ("weight-grad", "numpy-shared"): G.weight_grad_scatter_shared_reference,
    ("weight-grad", "numba-shared"): G.weight_grad_scatter_shared,
}


def dense_call(op, p, N):
    """The full layer through numpy's BLAS, outputs preallocated: (function, Cost)."""
    x, W, b, g = p["x"], p["W"], p["b"], p["dz_full"]
    D_out, D_in = W.shape
    it = DTYPE().itemsize
    if op == "forward":
        z = np.empty((N, D_out), DTYPE)
        if N == 1:                                        # GEMV (D_out, D_in) @ (D_in,)
            return (lambda: np.add(np.matmul(W, x[0], out=z[0]), b, out=z[0])), matmul_cost(D_out, D_in, 1, it)
        return (lambda: np.add(np.matmul(x, W.T, out=z), b, out=z)), matmul_cost(N, D_in, D_out, it)
    if op == "backward-input":                            # (N, D_out) @ (D_out, D_in)
        dx = np.empty((N, D_in), DTYPE)
        return (lambda: np.matmul(g, W, out=dx)), matmul_cost(N, D_out, D_in, it)
    dW = np.zeros((D_out, D_in), DTYPE)
    if N == 1:                                            # dW += outer(g, x) in place on dW.T (Fortran order)
        rank1 = Cost(D_out * D_in, (2 * D_out * D_in + D_out + D_in) * it, D_out * D_in * it)
        return (lambda: sger(1.0, x[0], g[0], a=dW.T, overwrite_a=True)), rank1
    return (lambda: np.matmul(g.T, x, out=dW)), matmul_cost(D_out, N, D_in, it)   # (D_out, N) @ (N, D_in)


def active_call(op, impl, p, N):
    """One active-set implementation, outputs preallocated: (function, Cost from the kernel's *_cost)."""
    x, W, b, dz, K = p["x"], p["W"], p["b"], p["dz"], p["K"]
    D_out, D_in = W.shape
    it = DTYPE().itemsize
    shared = "shared" in impl
    if N == 1:
        fn = BATCH_1[op, impl]
        x, dz = x[0], dz[0]
        sets = [s[0] for s in p["idx_sets"]]
    else:
        fn = BATCH_N[op, impl]
        sets = [s[0] for s in p["idx_sets"]] if shared else p["idx_sets"]
    idx = itertools.cycle(sets).__next__                  # a new active set every call
    kind = "_1" if N == 1 else "_shared" if shared else ""
    module = {"forward": F, "backward-input": B, "weight-grad": G}[op]
    name = {"forward": "active_forward", "backward-input": "backward_input", "weight-grad": "weight_grad_scatter"}[op]
    cost_fn = getattr(module, name + kind + "_cost")
    cost = cost_fn(K, D_in, it) if N == 1 else cost_fn(N, K, D_in, it)
    if op == "forward":
        z = np.empty(np.shape(dz), DTYPE)
        return (lambda: fn(x, W, b, idx(), z)), cost
    if op == "backward-input":
        dx = np.empty(np.shape(x), DTYPE)
        return (lambda: fn(dz, W, idx(), dx)), cost
    dW, db = np.zeros((D_out, D_in), DTYPE), np.zeros(D_out, DTYPE)      # the scatter adds into them
    return (lambda: fn(dz, x, idx(), dW, db)), cost


def record(benchmark, cost, **info):
    if benchmark.stats is None:                           # --benchmark-disable: ran once, nothing timed
        return
    t = benchmark.stats.stats.median
    nbytes = cost.bytes_read + cost.bytes_written
    benchmark.extra_info.update(info, macs=cost.macs, bytes=nbytes,        # rates at the median
                                gflops=2 * cost.macs / t / 1e9, gbs=nbytes / t / 1e9)


GRID = [(op, layer, N, frac, impl)
        for op in ("forward", "backward-input", "weight-grad")
        for layer in LAYERS for N in (1, 20)
        for frac in FRACTIONS
        for impl in (IMPLS_1 if N == 1 else IMPLS_N)
        if not (impl == "dense" and frac != 1.0)                      # dense ignores the fraction
        if not (impl == "numba-shared-parallel" and op != "forward")]  # the only shared parallel kernel


@pytest.mark.parametrize("op,layer,N,frac,impl", GRID, ids=["-".join(map(str, g)) for g in GRID])
def test_active(benchmark, op, layer, N, frac, impl):
    D_in, D_out = LAYERS[layer]
    p = problem(D_in, D_out, N, frac)
    if impl == "numpy-ref" and N * p["K"] * D_in * DTYPE().itemsize > REF_LIMIT:
        pytest.skip("the per-sample NumPy reference would gather more than 100 MB")
    fn, cost = dense_call(op, p, N) if impl == "dense" else active_call(op, impl, p, N)
    fn()                                                  # JIT already warm; first-touch the outputs
    benchmark.group = f"{op} {layer} N={N}"
    benchmark(fn)
    record(benchmark, cost, op=op, layer=layer, N=N, frac=frac, K=p["K"], impl=impl)


HEADLINE_D, HEADLINE_K = 1000, 50


def load_line():
    """The 1-minute load average, with a warning when other processes compete for the cores."""
    load, cores = machine_load(), os.cpu_count() or 1
    line = f"1-minute load average {load:.2f} on {cores} cores"
    if load > 0.5:
        line += (" -- WARNING: the machine is loaded (other processes share the cores); trust the "
                 "min column and the ratios, not the medians")
    return line


def headline_steps(dtype, D=HEADLINE_D, K=HEADLINE_K):
    """Batch-1 step pieces on a D x D layer with K active units: {name: (function, Cost)}.
    `*-step` = forward + input gradient + weight gradient; the sparse-input variant also takes
    the input as K active units (a hidden layer behind an ALSH layer)."""
    rng = np.random.default_rng(0)
    it = np.dtype(dtype).itemsize
    W = (rng.standard_normal((D, D)) / np.sqrt(D)).astype(dtype)
    b = np.zeros(D, dtype)
    x = rng.standard_normal(D).astype(dtype)
    idx_sets = [rng.permutation(D)[:K] for _ in range(SETS)]          # a new set every step
    xi_sets = [rng.permutation(D)[:K] for _ in range(SETS)]
    xv = x[xi_sets[0]].copy()                                          # values do not change the time
    dz = rng.standard_normal(K).astype(dtype)
    g = np.zeros(D, dtype)                                 # the dense path's gradient: zeros off the set
    g[idx_sets[0]] = dz
    z, dxv, zd, dx = np.empty(K, dtype), np.empty(K, dtype), np.empty(D, dtype), np.empty(D, dtype)
    dW, db = np.zeros((D, D), dtype), np.zeros(D, dtype)
    ger = sger if dtype == np.float32 else dger
    # one rotation per piece: chained in a step they advance together, so a step uses one set
    i1, i2, i3, i4, i5, i6 = (itertools.cycle(idx_sets).__next__ for _ in range(6))
    j1, j2, j3 = (itertools.cycle(xi_sets).__next__ for _ in range(3))
    rank1 = Cost(D * D, (2 * D * D + 2 * D) * it, D * D * it)
    parts = {
        "dense-forward": (lambda: np.add(np.matmul(W, x, out=zd), b, out=zd), matmul_cost(D, D, 1, it)),
        "dense-backward": (lambda: np.matmul(g, W, out=dx), matmul_cost(1, D, D, it)),      # (D,) @ (D, D)
        "dense-wgrad-sger": (lambda: ger(1.0, x, g, a=dW.T, overwrite_a=True), rank1),      # dW += outer, in place
        "dense-wgrad-outer": (lambda: np.multiply.outer(g, x, out=dW), rank1),               # dW = outer
        "numba-forward": (lambda: F.active_forward_1(x, W, b, i1(), z), F.active_forward_1_cost(K, D, it)),
        "numba-backward": (lambda: B.backward_input_1(dz, W, i2(), dx), B.backward_input_1_cost(K, D, it)),
        "numba-wgrad": (lambda: G.weight_grad_scatter_1(dz, x, i3(), dW, db), G.weight_grad_scatter_1_cost(K, D, it)),
        "sparse-forward": (lambda: F.sparse_forward_1(xv, j1(), W, b, i4(), z), F.sparse_forward_1_cost(K, K, it)),
        "sparse-backward": (lambda: B.sparse_backward_input_1(dz, W, i5(), j2(), dxv),
                            B.sparse_backward_input_1_cost(K, K, it)),
        "sparse-wgrad": (lambda: G.sparse_weight_grad_scatter_1(dz, xv, j3(), i6(), dW, db),
                         G.sparse_weight_grad_scatter_1_cost(K, K, it)),
    }

    def chain(*names):
        fns = [parts[n][0] for n in names]

        def step():
            for f in fns:
                f()
        cost = parts[names[0]][1] + parts[names[1]][1] + parts[names[2]][1]
        return step, cost

    steps = {"dense-sger-step": chain("dense-forward", "dense-backward", "dense-wgrad-sger"),
             "dense-outer-step": chain("dense-forward", "dense-backward", "dense-wgrad-outer"),
             "numba-step": chain("numba-forward", "numba-backward", "numba-wgrad"),
             "numba-sparse-input-step": chain("sparse-forward", "sparse-backward", "sparse-wgrad")}
    return {**parts, **steps}


@pytest.mark.parametrize("impl", ["dense-sger-step", "dense-outer-step", "numba-step", "numba-sparse-input-step"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_headline_batch1_step(benchmark, impl, dtype):
    """Forward + input gradient + weight gradient, batch 1, 1000x1000, 5% active (50 units)."""
    step, cost = headline_steps(dtype)[impl]
    step()
    benchmark.group = f"headline batch-1 step 1000x1000 5% {np.dtype(dtype).name}"
    benchmark(step)
    record(benchmark, cost, op="headline", layer="1000-1000", N=1, frac=0.05, K=50,
           impl=impl.replace("-step", ""), dtype=np.dtype(dtype).name)


def interleaved_headline(rounds=101, window_us=1000.0):
    """The headline pieces timed in interleaved windows of about `window_us` each (every piece once
    per round), so a change of machine load hits all of them alike. Short windows and the minimum
    over rounds estimate the uncontended time on a busy machine; the median is reported beside it."""
    from threadpoolctl import threadpool_limits
    threads = os.environ.get("NPMLP_BENCH_BLAS_THREADS", "1")
    with threadpool_limits(limits=int(threads)):
        for dtype in (np.float32, np.float64):
            pieces = headline_steps(dtype)
            calls = {}
            for name, (fn, _) in pieces.items():            # compile / first touch, then size the window
                fn()
                t0 = time.perf_counter()
                for _ in range(20):
                    fn()
                calls[name] = max(3, int(window_us * 20 / ((time.perf_counter() - t0) * 1e6)))
            times = {name: [] for name in pieces}
            for _ in range(rounds):
                for name, (fn, _) in pieces.items():
                    n = calls[name]
                    t0 = time.perf_counter()
                    for _ in range(n):
                        fn()
                    times[name].append((time.perf_counter() - t0) / n * 1e6)
            med = {k: float(np.median(v)) for k, v in times.items()}
            low = {k: min(v) for k, v in times.items()}
            name_dt = np.dtype(dtype).name
            peak, bw = FMA_PEAK_GFLOPS[(name_dt, 1)], L3_GEMV_GBS[1]
            print(f"\n{name_dt}: {rounds} rounds of ~{window_us:.0f} us windows, BLAS threads {threads}; "
                  f"problem: one batch-1 step of a {HEADLINE_D}x{HEADLINE_D} layer, {HEADLINE_K} of "
                  f"{HEADLINE_D} units active ({100 * HEADLINE_K / HEADLINE_D:g}%); peaks: {peak:g} "
                  f"GFLOP/s (FMA, 1 core), {bw:g} GB/s (L3 GEMV) from notes/performance-facts.md")
            print(load_line())
            print("| piece | min us | median us (max) | GFLOP/s at min (of peak) | GB/s at min (of L3) "
                  "| dense-sger-step / this, at min | at median |")
            print("|---|---|---|---|---|---|---|")
            for name, (_, c) in pieces.items():
                gflops = 2 * c.macs / low[name] / 1e3
                gbs = (c.bytes_read + c.bytes_written) / low[name] / 1e3
                print(f"| {name} | {low[name]:.1f} | {med[name]:.1f} ({max(times[name]):.1f}) "
                      f"| {gflops:.1f} ({100 * gflops / peak:.0f}%) | {gbs:.1f} ({100 * gbs / bw:.0f}%) "
                      f"| {low['dense-sger-step'] / low[name]:.1f}x | {med['dense-sger-step'] / med[name]:.1f}x |")


@pytest.mark.parametrize("kernel", ["active_forward_1", "backward_input_1", "weight_grad_scatter_1", "matmul-1x1"])
def test_call_overhead(benchmark, kernel):
    """Fixed cost of one call: the kernel on an empty active set (numpy's 1x1 matmul for comparison)."""
    W, v = np.ones((10, 10), DTYPE), np.ones(10, DTYPE)
    idx, e = np.empty(0, np.int64), np.empty(0, DTYPE)
    fn = {"active_forward_1": lambda: F.active_forward_1(v, W, v, idx, e),
          "backward_input_1": lambda: B.backward_input_1(e, W, idx, v),
          "weight_grad_scatter_1": lambda: G.weight_grad_scatter_1(e, v, idx, W, v),
          "matmul-1x1": lambda: np.matmul(W[:1, :1], v[:1], out=v[:1])}[kernel]
    fn()
    benchmark.group = "call overhead"
    benchmark(fn)


def summarize(path):
    """A markdown table from a --benchmark-json file: min and median microseconds, GFLOP/s and GB/s at
    the min, and the speed-up over the dense BLAS path of the same op, layer, batch (and dtype) at the
    min and at the median. On a busy machine the min is the better estimate of the uncontended time."""
    rows = json.load(open(path))["benchmarks"]

    def key(e):
        return e.get("op"), e.get("layer"), e.get("N"), e.get("dtype")

    dense = {key(r["extra_info"]): r["stats"] for r in rows if r["extra_info"].get("impl") in ("dense", "dense-sger")}
    print("| op | layer | N | frac | K | impl | min us | median us | GFLOP/s | GB/s | dense / this: min | median |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        e, st = r["extra_info"], r["stats"]
        if "impl" not in e:                               # call-overhead rows
            print(f"| {r['name']} | | | | | | {st['min'] * 1e6:.2f} | {st['median'] * 1e6:.2f} | | | | |")
            continue
        ref = dense.get(key(e))
        ratios = f"{ref['min'] / st['min']:.1f}x | {ref['median'] / st['median']:.1f}x" if ref else " | "
        impl = e["impl"] + (" " + e["dtype"] if "dtype" in e else "")
        flops, nbytes = 2 * e["macs"] / st["min"] / 1e9, e["bytes"] / st["min"] / 1e9
        print(f"| {e['op']} | {e['layer']} | {e['N']} | {e['frac']:g} | {e['K']} | {impl} | {st['min'] * 1e6:.1f} "
              f"| {st['median'] * 1e6:.1f} | {flops:.1f} | {nbytes:.1f} | {ratios} |")


def main(argv=None):
    import argparse
    p = argparse.ArgumentParser(prog="python bench/bench_active.py",
                                description="The batch-1 headline, or markdown tables from a "
                                            "--benchmark-json file of the grid (needs the bench "
                                            "extra: pip install -e '.[bench]').")
    p.add_argument("what", metavar="headline|FILE.json",
                   help="'headline': time one batch-1 step through the kernels against dense BLAS, "
                        "interleaved (about 10 s); FILE.json: summarise a pytest-benchmark JSON file")
    p.add_argument("--rounds", type=int, default=101, help="headline: interleaved rounds [101]")
    args = p.parse_args(argv)
    if args.what == "headline":
        interleaved_headline(rounds=args.rounds)
    elif not os.path.isfile(args.what):
        p.error(f"{args.what!r} is neither 'headline' nor a file; make one with: python -m pytest "
                f"bench/bench_active.py --benchmark-only --benchmark-json={args.what}")
    else:
        summarize(args.what)


if __name__ == "__main__":
    main()
