"""Microbenchmarks of the LSH kernels (kernels/lsh*.py) against one dense GEMV of the same layer.

Run (from the repository root; about 2 minutes on 2 cores):
    python -m pytest bench/bench_lsh.py --benchmark-only --benchmark-max-time=0.2 \\
        --benchmark-json=bench/lsh.json
    python bench/bench_lsh.py bench/lsh.json          # markdown tables, times relative to the GEMV
    python bench/bench_lsh.py recall                  # recall vs time for a few K, L (~1 minute)

Layer: 1000 units x D_in 1000, float32, l2_alsh transform (m = 3, so hashed vectors have 1003
coordinates), K = 6 bits, L = 5 tables (EDBT's setting) unless a test says otherwise.
    test_gemv          the baseline: W @ x, (1000, 1000) @ (1000,), numpy BLAS
    test_hash_query    one query into L tables: family x {dense query, sparse query with 5% non-zeros}
                       x {numba kernel, numpy-ref (the module's reference: explicit Q(a), planes @ Q)}
    test_build         hash all rows (transform + BLAS projection + signs) and counting-sort the
                       tables, for 1000 and 10,000 rows; also the two parts alone
    test_select        one selection per policy on built tables (numba, and the Python reference)
    test_query_total   hash a query + EDBT selection: what ALSH-APPROX pays per layer per sample
BLAS is limited to 1 thread (both OpenBLAS copies) so the GEMV is the single-thread anchor; set
NPMLP_BENCH_BLAS_THREADS=2 to compare. Kernels are compiled before any clock starts.
"""
import json
import os
import sys
import time

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from kernels import lsh  # noqa: E402
from kernels import lsh_dwta, lsh_hash, lsh_select, lsh_tables, lsh_transforms  # noqa: E402
from kernels.cost import matmul_cost  # noqa: E402

D_IN, D_OUT, K, L, TAU = 1000, 1000, 6, 5, 50
DTYPE = np.float32
FAMILIES = ["srp_rademacher", "srp_gaussian", "srp_sparse", "dwta"]
REFERENCES = {"dense": {"dwta": lsh_dwta.dwta_hash_query_reference},
              "sparse": {"dwta": lsh_dwta.dwta_hash_sparse_query_reference}}


@pytest.fixture(scope="module", autouse=True)
def pinned_blas():
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=int(os.environ.get("NPMLP_BENCH_BLAS_THREADS", "1"))):
        for warm in (lsh_transforms.warmup_lsh_transforms, lsh_hash.warmup_lsh_hash, lsh_dwta.warmup_lsh_dwta,
                     lsh_tables.warmup_lsh_tables, lsh_select.warmup_lsh_select):
            warm()
        yield


def layer(n=D_OUT, d=D_IN, seed=0):
    """Kaiming-scaled weights, a ReLU-like dense query and a 5%-non-zero sparse query."""
    rng = np.random.default_rng(seed)
    W = (rng.standard_normal((n, d)) * np.sqrt(2 / d)).astype(DTYPE)
    a = np.maximum(rng.standard_normal(d), 0).astype(DTYPE)
    idx = np.sort(rng.choice(d, d // 20, replace=False)).astype(np.int32)
    vals = rng.random(len(idx)).astype(DTYPE)
    return rng, W, a, vals, idx


def record(benchmark, cost=None, **info):
    benchmark.extra_info.update(info)
    if cost is not None and benchmark.stats is not None:
        t = benchmark.stats.stats.median
        benchmark.extra_info.update(macs=cost.macs, bytes=cost.bytes_read + cost.bytes_written,
                                    gflops=2 * cost.macs / t / 1e9,
                                    gbs=(cost.bytes_read + cost.bytes_written) / t / 1e9)


def test_gemv(benchmark):
    _, W, a, _, _ = layer()
    z = np.empty(D_OUT, DTYPE)
    benchmark.group = "baseline"
    benchmark(lambda: np.matmul(W, a, out=z))                     # (1000, 1000) @ (1000,) -> (1000,)
    record(benchmark, matmul_cost(D_OUT, D_IN, 1, 4), op="gemv", impl="numpy-blas")


@pytest.mark.parametrize("impl", ["numba", "numpy-ref"])
@pytest.mark.parametrize("query", ["dense", "sparse"])
@pytest.mark.parametrize("family", FAMILIES)
def test_hash_query(benchmark, family, query, impl):
    rng, W, a, vals, idx = layer()
    t = lsh.make_transform("l2_alsh")
    proj = lsh.draw_projection(rng, family, D_IN + t.m, K, L, dtype=DTYPE)
    out = np.empty(L, np.int32)
    if impl == "numba":
        fn = (lambda: lsh.hash_query(a, t, proj, out)) if query == "dense" else \
             (lambda: lsh.hash_sparse_query(vals, idx, t, proj, out))
    else:
        ref = REFERENCES[query].get(family, lsh_hash.srp_hash_query_reference if query == "dense"
                                    else lsh_hash.srp_hash_sparse_query_reference)
        fn = (lambda: ref(a, t, proj, out)) if query == "dense" else (lambda: ref(vals, idx, t, proj, out))
    fn()
    benchmark.group = f"hash one query, K={K} L={L}"
    benchmark(fn)
    record(benchmark, lsh.hash_query_cost(proj, D_IN, t.m, 4, None if query == "dense" else len(idx)),
           op="hash-query", family=family, query=query, impl=impl)


@pytest.mark.parametrize("part", ["hash+build", "hash_rows", "build_tables", "build-reference"])
@pytest.mark.parametrize("family", ["srp_rademacher", "dwta"])
@pytest.mark.parametrize("n", [1000, 10000])
def test_build(benchmark, n, family, part):
    if part == "build-reference" and family == "dwta":
        pytest.skip("the table build does not depend on the family")
    rng, W, _, _, _ = layer(n=n)
    t = lsh.make_transform("l2_alsh")
    proj = lsh.draw_projection(rng, family, D_IN + t.m, K, L, dtype=DTYPE, bin_bits=2)
    nb = lsh.n_bits(proj)
    codes, tables = np.empty((L, n), np.int32), lsh.make_tables(L, nb, n)
    ext, work = np.empty((n, t.m), DTYPE), np.empty((n, K * L), DTYPE)
    lsh.hash_rows(W, t, proj, codes, ext, work)
    fn = {"hash+build": lambda: (lsh.hash_rows(W, t, proj, codes, ext, work), lsh.build_tables(codes, tables)),
          "hash_rows": lambda: lsh.hash_rows(W, t, proj, codes, ext, work),
          "build_tables": lambda: lsh.build_tables(codes, tables),
          "build-reference": lambda: lsh_tables.build_tables_reference(codes, tables)}[part]
    fn()
    benchmark.group = f"build {n} rows"
    benchmark(fn)
    cost = {"hash_rows": lsh.hash_rows_cost(proj, n, D_IN, t.m, 4), "build_tables": lsh.build_tables_cost(L, n, nb)}
    cost["hash+build"] = cost["hash_rows"] + cost["build_tables"]
    record(benchmark, cost.get(part), op="build", n=n, family=family, impl=part)


def built(family="srp_rademacher", transform="l2_alsh", k=K, n_tables=L, seed=0):
    rng, W, a, vals, idx = layer(seed=seed)
    t = lsh.make_transform(transform)
    proj = lsh.draw_projection(rng, family, D_IN + t.m, k, n_tables, dtype=DTYPE)
    codes, tables = np.empty((n_tables, D_OUT), np.int32), lsh.make_tables(n_tables, lsh.n_bits(proj), D_OUT)
    lsh.hash_rows(W, t, proj, codes)
    lsh.build_tables(codes, tables)
    return rng, W, t, proj, tables


POLICY_PARAM = {"edbt": TAU, "topfreq": TAU, "union": None, "threshold": 1}


@pytest.mark.parametrize("impl", ["numba", "python-ref"])
@pytest.mark.parametrize("policy", list(POLICY_PARAM))
def test_select(benchmark, policy, impl):
    rng, W, t, proj, tables = built()
    _, _, a, _, _ = layer(seed=1)
    qcodes = np.empty(L, np.int32)
    lsh.hash_query(a, t, proj, qcodes)
    pool, scratch, out = lsh.make_uniform_pool(rng), lsh.make_select_scratch(D_OUT, L), np.empty(D_OUT, np.int32)
    param = POLICY_PARAM[policy]
    if impl == "numba":
        fn = lambda: lsh.select(policy, tables, qcodes, True, param, pool, out, scratch)  # noqa: E731
    else:
        ref = getattr(lsh_select, f"select_{policy}_reference")
        args = {"edbt": (param, pool), "topfreq": (param,), "union": (), "threshold": (param,)}[policy]
        fn = lambda: ref(tables, qcodes, True, *args, out, scratch)  # noqa: E731
    size = fn()
    benchmark.group = f"select, {D_OUT} units, K={K} L={L}"
    benchmark(fn)
    record(benchmark, lsh.select_cost(D_OUT, L, K, size), op="select", policy=policy, size=int(size), impl=impl)


@pytest.mark.parametrize("query", ["dense", "sparse"])
def test_query_total(benchmark, query):
    rng, W, t, proj, tables = built()
    _, _, a, vals, idx = layer(seed=1)
    qcodes = np.empty(L, np.int32)
    pool, scratch, out = lsh.make_uniform_pool(rng), lsh.make_select_scratch(D_OUT, L), np.empty(D_OUT, np.int32)

    def step():
        valid = lsh.hash_query(a, t, proj, qcodes) if query == "dense" else \
            lsh.hash_sparse_query(vals, idx, t, proj, qcodes)
        return lsh.select("edbt", tables, qcodes, valid, TAU, pool, out, scratch)
    step()
    benchmark.group = "hash + EDBT selection"
    benchmark(step)
    record(benchmark, op="query-total", query=query, impl="numba")


def recall_vs_time(queries=300):
    """Recall of the true top-50 (5%) units by <w, a> for a few (K, L) and policies, with the median
    time of hash + select per query, on the random 1000 x 1000 layer with ReLU-like dense queries."""
    _, W, _, _, _ = layer()
    rng = np.random.default_rng(5)
    A = np.maximum(rng.standard_normal((queries, D_IN)), 0).astype(DTYPE)
    top = np.argsort(-(A @ W.T), axis=1)[:, :TAU]                     # (queries, 50)
    print("| transform | family | K | L | policy | mean size | recall@50 | random same size | median us/query |")
    print("|---|---|---|---|---|---|---|---|---|")
    for transform, family, k, n_tables in [("l2_alsh", "srp_rademacher", 6, 5), ("l2_alsh", "srp_rademacher", 4, 10),
                                           ("l2_alsh", "srp_rademacher", 6, 20), ("l2_alsh", "srp_rademacher", 8, 50),
                                           ("sign_alsh", "srp_gaussian", 6, 5), ("simple_lsh", "srp_gaussian", 6, 5),
                                           ("none", "srp_gaussian", 6, 5), ("none", "dwta", 2, 20)]:
        _, _, t, proj, tables = built(family, transform, k, n_tables)
        pool = lsh.make_uniform_pool(rng)
        scratch, out, qcodes = lsh.make_select_scratch(D_OUT, n_tables), np.empty(D_OUT, np.int32), np.empty(n_tables, np.int32)
        for policy in ("edbt", "topfreq", "union"):
            sizes, hits, elapsed = [], [], []
            for a, true in zip(A, top):
                t0 = time.perf_counter()
                valid = lsh.hash_query(a, t, proj, qcodes)
                size = lsh.select(policy, tables, qcodes, valid, TAU, pool, out, scratch)
                elapsed.append(time.perf_counter() - t0)
                sizes.append(size)
                hits.append(np.isin(true, out[:size]).mean())              # outside the clock
            print(f"| {transform} | {family} | {k} | {n_tables} | {policy} | {np.mean(sizes):.0f} | "
                  f"{np.mean(hits):.3f} | {np.mean(sizes) / D_OUT:.3f} | {np.median(elapsed) * 1e6:.1f} |")


def summarize(path):
    rows = json.load(open(path))["benchmarks"]
    gemv = next(r["stats"]["median"] for r in rows if r["extra_info"].get("op") == "gemv")
    print("| group | test | median us (min-max) | / GEMV | GFLOP/s | GB/s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        s, e = r["stats"], r["extra_info"]
        rate = f"| {e['gflops']:.1f} | {e['gbs']:.1f} |" if "gflops" in e else "| | |"
        print(f"| {r['group']} | {r['name'].split('[')[-1].rstrip(']')} | {s['median'] * 1e6:.2f} "
              f"({s['min'] * 1e6:.2f}-{s['max'] * 1e6:.2f}) | {s['median'] / gemv:.3f} {rate}")


if __name__ == "__main__":
    if sys.argv[1:] == ["recall"]:
        from threadpoolctl import threadpool_limits
        with threadpool_limits(limits=1):
            recall_vs_time()
    else:
        summarize(sys.argv[1])
