"""Microbenchmarks of column-row sampling (kernels/crs_*.py) at MC-APPROX's shapes.

Measure (1 BLAS thread; pytest-benchmark saves every timing and the `extra_info` below as JSON):
    python -m pytest bench/bench_crs.py --benchmark-only --benchmark-max-time=0.3 \\
        --benchmark-json=OUT/crs.json                                      # ~70 s
Then the table (time, GFLOP/s, sampling overhead as a fraction of the exact product) and a plot:
    python bench/bench_crs.py report OUT/crs.json OUT/crs.png
The issue's target (overhead < 15% of the exact product at batch 20), measured robustly on a shared
machine: exact product, overhead and whole CRS product timed back to back in every round, the ratio
taken per round (so both sides see the same load), median and quartiles over the rounds:
    python bench/bench_crs.py interleaved [ROUNDS]

Cases, float32 (training's dtype), W stored (D_out, D_in) as in npmlp (the paper: W (D_in, D_out)):
    dX-b20   dY (20, 1000) @ W (1000, 1000)      input gradient, sampled over 1000 output units
    dX-b1    dY (1, 1000) @ W (1000, 1000)       the same at batch 1 (MC-APPROX_S)
    dX-wide  dY (20, 10000) @ W (10000, 1000)    a 10,000-unit layer (W 40 MB: beyond the 32 MB L3)
    dW-b20   dY.T (1000, 20) @ X (20, 1000)      weight gradient, sampled over the batch of 20
    dW-wide  dY.T (10000, 20) @ X (20, 1000)
x sample ratio k/n in {5, 10, 25, 50}% (dW-b20: k = 1, 2, 5, 10 of 20).
Implementations: dense (np.matmul on the full problem, ratio-free), numpy (the modules' plain-NumPy
references: norms, Bernoulli draw, (A[:, idx] * scale) @ B[idx]), crs (the kernels, Bernoulli-CRS
Eq. 7 with scaling), crs-parallel (norms on Numba threads), crs-cached (B's norms given, e.g.
kept by the optimizer update), and overhead / overhead-cached (norms + probabilities + draw +
gather, no product); each sampler of crs_sampling at dX-b20; the norm pass alone (GB/s). JIT
compiled before any timing.
"""
import functools
import json
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from kernels.crs_norms import norm_products, norm_products_cost, norm_products_ref  # noqa: E402
from kernels.crs_product import (crs_matmul, crs_workspace, gather_operands,  # noqa: E402
                                 sampled_matmul_ref)
from kernels.crs_sampling import CrsSelection, CrsSpec, bernoulli_ref, select  # noqa: E402

from crs_norms_parallel import norm_products_parallel  # noqa: E402  (beside this file)

CASES = {  # name: (m, n, p, A is a transposed view)
    "dX-b20": (20, 1000, 1000, False),
    "dX-b1": (1, 1000, 1000, False),
    "dX-wide": (20, 10000, 1000, False),
    "dW-b20": (1000, 20, 1000, True),
    "dW-wide": (10000, 20, 1000, True),
}
RATIOS = (0.05, 0.10, 0.25, 0.50)
IMPLS = ("numpy", "crs", "crs-parallel", "crs-cached", "overhead", "overhead-cached")
SAMPLERS = {"bernoulli": CrsSpec(), "bernoulli-exact-k": CrsSpec(exact_k=True),
            "bernoulli-mix": CrsSpec(mix_eps=0.1), "with-replacement": CrsSpec("with_replacement"),
            "without-replacement": CrsSpec("without_replacement"),
            "topk": CrsSpec("topk", scale=False), "uniform": CrsSpec("bernoulli", "uniform")}
DTYPE = np.float32


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    """Single-thread ratios are the stable ones here (performance-facts.md §5.2 item 5)."""
    from threadpoolctl import threadpool_limits
    from kernels import crs_norms, crs_product, crs_sampling
    for module in (crs_norms, crs_sampling, crs_product):
        module.warmup()
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@functools.lru_cache(maxsize=None)
def operands(case):
    m, n, p, transposed = CASES[case]
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, m), DTYPE).T if transposed else rng.standard_normal((m, n), DTYPE)
    B = rng.standard_normal((n, p), DTYPE)
    return A, B, np.linalg.norm(B, axis=1).astype(np.float64)


def k_of(case, ratio):
    return max(1, round(ratio * CASES[case][1]))


def _info(benchmark, case, ratio, k, spec):
    """Record what the timing covers: the expected pairs kept and the product's multiply-adds."""
    m, n, p, _ = CASES[case]
    A, B, _ = operands(case)
    rng = np.random.default_rng(1)
    kept = np.mean([select(A, B, k, rng, spec).kept for _ in range(50)]) if k < n else n
    benchmark.extra_info.update(case=case, ratio=ratio, k=k, m=m, n=n, p=p, kept=float(kept),
                                macs=float(m * kept * p), exact_macs=m * n * p)


@pytest.mark.parametrize("case", CASES)
def test_dense(benchmark, case):
    A, B, _ = operands(case)
    out = np.empty((A.shape[0], B.shape[1]), DTYPE)
    benchmark.group = case
    benchmark.extra_info.update(case=case, ratio=1.0, impl="dense",
                                exact_macs=float(np.prod(CASES[case][:3])))
    benchmark(np.matmul, A, B, out=out)


@pytest.mark.parametrize("ratio", RATIOS)
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", CASES)
def test_crs(benchmark, case, impl, ratio):
    A, B, b_norms = operands(case)
    m, n, p, _ = CASES[case]
    k = k_of(case, ratio)
    rng = np.random.default_rng(2)
    out = np.empty((m, p), DTYPE)
    a_buf, b_buf = crs_workspace(m, p, n, DTYPE)
    known = b_norms if impl.endswith("cached") else None

    def numpy_pipeline():
        c = norm_products_ref(A, B)
        idx, scale = bernoulli_ref(c, k / c.sum(), 0.0, rng.random(n), True)
        return sampled_matmul_ref(A, B, CrsSelection(idx, scale.astype(DTYPE), n))

    def overhead():
        sel = select(A, B, k, rng, b_norms=known)
        return gather_operands(A, B, sel, a_buf, b_buf) if sel.idx is not None else None

    def crs():
        c = norm_products_parallel(A, B) if impl == "crs-parallel" else None
        return crs_matmul(A, B, k, rng, out=out, a_buf=a_buf, b_buf=b_buf, b_norms=known, c=c)

    benchmark.group = case
    _info(benchmark, case, ratio, k, CrsSpec())
    benchmark.extra_info["impl"] = impl
    fn = numpy_pipeline if impl == "numpy" else overhead if impl.startswith("overhead") else crs
    benchmark(fn)


@pytest.mark.parametrize("ratio", RATIOS)
@pytest.mark.parametrize("sampler", SAMPLERS)
def test_samplers(benchmark, sampler, ratio):
    case = "dX-b20"
    A, B, _ = operands(case)
    m, n, p, _ = CASES[case]
    k = k_of(case, ratio)
    spec = SAMPLERS[sampler]
    rng = np.random.default_rng(3)
    out = np.empty((m, p), DTYPE)
    a_buf, b_buf = crs_workspace(m, p, n, DTYPE)
    benchmark.group = f"{case} samplers"
    _info(benchmark, case, ratio, k, spec)
    benchmark.extra_info["impl"] = f"sampler:{sampler}"
    benchmark(crs_matmul, A, B, k, rng, spec, out=out, a_buf=a_buf, b_buf=b_buf)


@pytest.mark.parametrize("impl", ["kernel", "kernel-parallel", "numpy", "einsum"])
@pytest.mark.parametrize("case", ["dX-b20", "dX-wide"])
def test_norms(benchmark, case, impl):
    """The norm pass alone, a streaming read of W: judged in GB/s against the L3 / DRAM rates."""
    A, B, _ = operands(case)
    m, n, p, _ = CASES[case]
    out = np.empty(n)
    fns = {"kernel": lambda: norm_products(A, B, out),
           "kernel-parallel": lambda: norm_products_parallel(A, B, out),
           "numpy": lambda: norm_products_ref(A, B),
           "einsum": lambda: np.sqrt(np.einsum("ij,ij->j", A, A) * np.einsum("ij,ij->i", B, B))}
    benchmark.group = f"{case} norms"
    benchmark.extra_info.update(case=case, impl=f"norms:{impl}", ratio=1.0, m=m, n=n, p=p,
                                bytes=norm_products_cost(m, n, p, 4).bytes_read,
                                macs=norm_products_cost(m, n, p, 4).macs, exact_macs=m * n * p)
    benchmark(fns[impl])


# ---------------------------------------------------------------------------------------------
# Report: python bench/bench_crs.py report RESULTS.json [PLOT.png]

def report(path, plot=None):
    rows = {}
    for b in json.load(open(path))["benchmarks"]:
        e = b["extra_info"]
        rows[(e["case"], e["impl"], e["ratio"])] = (b["stats"]["median"], b["stats"]["min"],
                                                     b["stats"]["max"], e)
    print("| case | impl | ratio | kept | median µs (min–max) | GFLOP/s done | exact GFLOP/s-equiv "
          "| × dense | overhead / dense |")
    print("|---|---|---:|---:|---|---:|---:|---:|---:|")
    order = sorted(rows.items(), key=lambda r: (r[0][0], r[0][2], r[0][1]))   # case, ratio, impl
    for (case, impl, ratio), (med, lo, hi, e) in order:
        dense = rows.get((case, "dense", 1.0), (float("nan"),))[0]
        macs = e.get("macs", e["exact_macs"])
        frac = f"{med / dense:.1%}" if impl.startswith(("overhead", "norms")) else ""
        if "bytes" in e:
            frac += f" ({e['bytes'] / med / 1e9:.0f} GB/s)"
        print(f"| {case} | {impl} | {ratio:.0%} | {e.get('kept', e.get('n', ''))!s:.6} "
              f"| {med * 1e6:.1f} ({lo * 1e6:.1f}–{hi * 1e6:.1f}) | {2 * macs / med / 1e9:.1f} "
              f"| {2 * e['exact_macs'] / med / 1e9:.1f} | {dense / med:.2f} | {frac} |")
    if plot:
        _plot(rows, plot)


def _plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cases = list(CASES)
    fig, axes = plt.subplots(1, len(cases), figsize=(4 * len(cases), 3.6))
    for ax, case in zip(axes, cases):
        dense = rows[(case, "dense", 1.0)][0] * 1e6
        ax.axhline(dense, color="k", lw=1, label="dense BLAS")
        for impl in IMPLS:
            pts = sorted((r, v[0] * 1e6) for (c, i, r), v in rows.items()
                         if c == case and i == impl)
            if pts:
                ax.plot(*zip(*pts), marker="o", label=impl)
        ax.set(title=case, xlabel="sample ratio k/n", ylabel="µs (median)", yscale="log")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def interleaved(rounds=2000):
    import time
    from threadpoolctl import threadpool_limits
    from kernels import crs_norms, crs_product, crs_sampling
    for module in (crs_norms, crs_sampling, crs_product):
        module.warmup()
    print("| case | ratio | norms | exact µs | overhead µs | CRS µs "
          "| overhead / exact, median (q1–q3) | min / min | exact / CRS |")
    print("|---|---:|---|---:|---:|---:|---|---:|---:|")
    with threadpool_limits(limits=1, user_api="blas"):
        for case, ratio in (("dX-b20", 0.10), ("dX-b20", 0.05), ("dW-b20", 0.5)):
            A, B, b_norms = operands(case)
            m, n, p, _ = CASES[case]
            k = k_of(case, ratio)
            out = np.empty((m, p), DTYPE)
            a_buf, b_buf = crs_workspace(m, p, n, DTYPE)
            rng = np.random.default_rng(4)
            for known in (None, b_norms):
                def overhead():
                    sel = select(A, B, k, rng, b_norms=known)
                    return gather_operands(A, B, sel, a_buf, b_buf)

                fns = (lambda: np.matmul(A, B, out=out), overhead,
                       lambda: crs_matmul(A, B, k, rng, out=out, a_buf=a_buf, b_buf=b_buf,
                                          b_norms=known))
                t = np.empty((rounds, 3))
                for r in range(rounds):
                    for j in np.roll(np.arange(3), r):   # rotate the order: no fixed cache position
                        t0 = time.perf_counter()
                        fns[j]()
                        t[r, j] = time.perf_counter() - t0
                q = np.percentile(t[:, 1] / t[:, 0], [25, 50, 75])
                best = t[:, 1].min() / t[:, 0].min()    # the uncontended estimate
                med = np.median(t, axis=0) * 1e6
                print(f"| {case} | {ratio:.0%} | {'given' if known is not None else 'computed'} "
                      f"| {med[0]:.0f} | {med[1]:.0f} | {med[2]:.0f} "
                      f"| {q[1]:.1%} ({q[0]:.1%}–{q[2]:.1%}) | {best:.1%} "
                      f"| {np.median(t[:, 0] / t[:, 2]):.2f} |")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "report":
        report(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    elif len(sys.argv) >= 2 and sys.argv[1] == "interleaved":
        interleaved(int(sys.argv[2]) if len(sys.argv) > 2 else 2000)
    else:
        sys.exit(__doc__)
