"""Active-set kernels (kernels/active_*.py) against their plain-NumPy references and exact limits.

Every kernel runs on the same seeded cases: several sizes, a batch of 1, an empty active set, all
units active (then it must equal the dense product), duplicate ids, all-zero rows of x and of W.
Tolerance: |kernel - reference| <= rtol * B, where B is the largest sum of |terms| (the reference
run on absolute values), rtol 1e-5 in float32 and 1e-12 in float64: rounding can move a sum of
D_in terms by about sqrt(D_in) * eps * B, far below that, while one wrong id or term moves it by O(B).
"""
from typing import NamedTuple

import numpy as np
import pytest

from kernels import active
from kernels.active_backward import (backward_input, backward_input_1, backward_input_parallel,
                                     backward_input_shared, sparse_backward_input,
                                     sparse_backward_input_1)
from kernels.active_forward import (active_forward, active_forward_1, active_forward_parallel,
                                    active_forward_scatter, active_forward_shared,
                                    active_forward_shared_parallel, sparse_forward, sparse_forward_1)
from kernels.active_weight_grad import (active_union, weight_grad_compact_1, weight_grad_scatter,
                                        weight_grad_scatter_1, weight_grad_scatter_parallel,
                                        weight_grad_scatter_shared, sparse_weight_grad_scatter,
                                        sparse_weight_grad_scatter_1)
from kernels.cost import matmul_cost

RTOL = {np.float32: 1e-5, np.float64: 1e-12}
DTYPES = [np.float32, np.float64]


class Case(NamedTuple):
    N: int
    D_in: int
    D_out: int
    K: int           # active units per sample (D_out with mode "all")
    J: int           # active inputs per sample (D_in with mode "all")
    mode: str        # "random" | "all" | "dup" | "zero"


CASES = {
    "small": Case(3, 37, 23, 11, 7, "random"),
    "batch1": Case(1, 64, 200, 9, 5, "random"),
    "paper-5pct": Case(4, 1000, 1000, 50, 50, "random"),
    "batch-tiles": Case(9, 45, 70, 13, 9, "random"),     # 4x4 tiles plus both remainders
    "empty": Case(3, 17, 13, 0, 0, "random"),
    "all-active": Case(2, 29, 19, 19, 29, "all"),
    "duplicates": Case(3, 21, 6, 10, 9, "dup"),
    "zero-rows": Case(4, 33, 40, 8, 6, "zero"),
}


def make(case, dtype, seed=0):
    """Seeded arrays for one case: dense and sparse inputs, weights, active sets, upstream gradient."""
    rng = np.random.default_rng(seed)
    N, D_in, D_out, K, J, mode = case
    x = rng.standard_normal((N, D_in)).astype(dtype)
    W = rng.standard_normal((D_out, D_in)).astype(dtype)
    b = rng.standard_normal(D_out).astype(dtype)
    if mode == "all":
        idx = np.tile(np.arange(D_out), (N, 1))
        xi = np.tile(np.arange(D_in), (N, 1))
    elif mode == "dup":                                  # draws with replacement from few ids
        idx = rng.integers(0, D_out, (N, K))
        xi = rng.integers(0, 4, (N, J))
    else:
        idx = np.stack([rng.permutation(D_out)[:K] for _ in range(N)])   # unsorted, like ALSH's
        xi = np.stack([rng.permutation(D_in)[:J] for _ in range(N)])
    xv = rng.standard_normal((N, J)).astype(dtype)
    dz = rng.standard_normal((N, K)).astype(dtype)
    if mode == "zero":                                   # an all-zero input row and weight row
        x[0] = 0
        xv[0] = 0
        W[idx[1, 0]] = 0
        dz[2] = 0
    return dict(x=x, W=W, b=b, idx=idx.astype(np.int64), xi=xi.astype(np.int64), xv=xv, dz=dz)


def check(kernel, reference, args, out_pos, dtype, init=np.nan):
    """Run kernel and reference on copies; outputs (args at out_pos) start at `init`."""
    def run(fn, values):
        a = [np.copy(v) if isinstance(v, np.ndarray) else v for v in values]
        for p in out_pos:
            if init is not None:
                a[p][...] = init
        ret = fn(*a)
        return [a[p] for p in out_pos], ret

    got, got_ret = run(kernel, args)
    ref, ref_ret = run(reference, args)
    # the same reference on |values| bounds every sum of |terms|
    abs_args = [np.abs(v) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v for v in args]
    bound, _ = run(reference, abs_args)
    for g, r, B in zip(got, ref, bound):
        assert g.dtype == dtype and g.shape == r.shape
        if g.dtype.kind != "f":                          # ids and positions: exact
            assert np.array_equal(g, r)
            continue
        scale = float(np.abs(B).max()) if B.size else 0.0
        np.testing.assert_allclose(g, r, rtol=0, atol=RTOL[dtype] * max(scale, 1.0))
    assert got_ret == ref_ret
    return got


def empty(dtype, *shape):
    return np.empty(shape, dtype)


# --------------------------------------------------------------------------------------------- forward

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CASES)
def test_forward_kernels_match_reference(name, dtype):
    c = CASES[name]
    a = make(c, dtype)
    x, W, b, idx, xi, xv = a["x"], a["W"], a["b"], a["idx"], a["xi"], a["xv"]
    ref = active.REFERENCES
    for n in range(c.N):                                 # batch 1, every sample of the case
        check(active_forward_1, ref[active_forward_1], (x[n], W, b, idx[n], empty(dtype, c.K)), [4], dtype)
        check(sparse_forward_1, ref[sparse_forward_1],
              (xv[n], xi[n], W, b, idx[n], empty(dtype, c.K)), [5], dtype)
    for k in (active_forward, active_forward_parallel):
        check(k, ref[k], (x, W, b, idx, empty(dtype, c.N, c.K)), [4], dtype)
    for k in (active_forward_shared, active_forward_shared_parallel):
        check(k, ref[k], (x, W, b, idx[0], empty(dtype, c.N, c.K)), [4], dtype)
    check(active_forward_scatter, ref[active_forward_scatter],
          (x, W, b, idx, empty(dtype, c.N, c.D_out)), [4], dtype)
    check(sparse_forward, ref[sparse_forward], (xv, xi, W, b, idx, empty(dtype, c.N, c.K)), [5], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_all_active_equals_dense_product(dtype):
    c = CASES["all-active"]
    a = make(c, dtype)
    x, W, b, idx = a["x"], a["W"], a["b"], a["idx"]
    dense = x @ W.T + b                                  # (N, D_in) @ (D_in, D_out) -> (N, D_out)
    tol = RTOL[dtype] * float((np.abs(x) @ np.abs(W).T).max())
    for kernel, ids in ((active_forward, idx), (active_forward_parallel, idx), (active_forward_scatter, idx),
                        (active_forward_shared, idx[0]), (active_forward_shared_parallel, idx[0])):
        out = np.full((c.N, c.D_out), np.nan, dtype)
        kernel(x, W, b, ids, out)
        np.testing.assert_allclose(out, dense, rtol=0, atol=tol)
    out = np.empty((c.N, c.D_out), dtype)
    sparse_forward(x, a["xi"], W, b, idx, out)           # every input listed as active
    np.testing.assert_allclose(out, dense, rtol=0, atol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sparse_input_forward_equals_dense_input_with_zeros(dtype):
    """Inactive inputs are exact zeros: (xv, xi) gives the same z as the dense input it stands for."""
    c = CASES["paper-5pct"]
    a = make(c, dtype)
    dense_x = np.zeros((c.N, c.D_in), dtype)
    for n in range(c.N):
        np.add.at(dense_x[n], a["xi"][n], a["xv"][n])
    want = np.empty((c.N, c.K), dtype)
    active_forward(dense_x, a["W"], a["b"], a["idx"], want)
    got = np.empty((c.N, c.K), dtype)
    sparse_forward(a["xv"], a["xi"], a["W"], a["b"], a["idx"], got)
    np.testing.assert_allclose(got, want, rtol=0, atol=RTOL[dtype] * c.D_in)


def test_empty_set_and_scatter_zeros():
    a = make(CASES["empty"], np.float32)
    out = np.full((3, 13), np.nan, np.float32)
    active_forward_scatter(a["x"], a["W"], a["b"], a["idx"], out)
    assert not out.any()                                 # K = 0: every unit inactive, z = 0
    dx = np.full((3, 17), np.nan, np.float32)
    backward_input(a["dz"], a["W"], a["idx"], dx)
    assert not dx.any()                                  # no active unit sends a gradient back


# --------------------------------------------------------------------------------------------- backward

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CASES)
def test_input_gradient_kernels_match_reference(name, dtype):
    c = CASES[name]
    a = make(c, dtype)
    dz, W, idx, xi = a["dz"], a["W"], a["idx"], a["xi"]
    ref = active.REFERENCES
    for n in range(c.N):
        check(backward_input_1, ref[backward_input_1], (dz[n], W, idx[n], empty(dtype, c.D_in)), [3], dtype)
        check(sparse_backward_input_1, ref[sparse_backward_input_1],
              (dz[n], W, idx[n], xi[n], empty(dtype, c.J)), [4], dtype)
    for k in (backward_input, backward_input_parallel):
        check(k, ref[k], (dz, W, idx, empty(dtype, c.N, c.D_in)), [3], dtype)
    check(backward_input_shared, ref[backward_input_shared], (dz, W, idx[0], empty(dtype, c.N, c.D_in)),
          [3], dtype)
    dxv = check(sparse_backward_input, ref[sparse_backward_input],
                (dz, W, idx, xi, empty(dtype, c.N, c.J)), [4], dtype)[0]
    dx = np.empty((c.N, c.D_in), dtype)                  # the sparse gradient is the dense one at xi
    backward_input(dz, W, idx, dx)
    np.testing.assert_allclose(dxv, np.take_along_axis(dx, xi, axis=1), rtol=0, atol=RTOL[dtype] * 100)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CASES)
def test_weight_gradient_kernels_match_reference(name, dtype):
    c = CASES[name]
    a = make(c, dtype)
    dz, x, idx, xi, xv = a["dz"], a["x"], a["idx"], a["xi"], a["xv"]
    rng = np.random.default_rng(1)
    dW0 = rng.standard_normal((c.D_out, c.D_in)).astype(dtype)   # scatter-add keeps what was there
    db0 = rng.standard_normal(c.D_out).astype(dtype)
    ref = active.REFERENCES
    for n in range(c.N):
        check(weight_grad_scatter_1, ref[weight_grad_scatter_1], (dz[n], x[n], idx[n], dW0, db0), [3, 4],
              dtype, init=None)
        check(sparse_weight_grad_scatter_1, ref[sparse_weight_grad_scatter_1],
              (dz[n], xv[n], xi[n], idx[n], dW0, db0), [4, 5], dtype, init=None)
        check(weight_grad_compact_1, ref[weight_grad_compact_1], (dz[n], x[n], empty(dtype, c.K, c.D_in)),
              [2], dtype)
    for k in (weight_grad_scatter, weight_grad_scatter_parallel):
        check(k, ref[k], (dz, x, idx, dW0, db0), [3, 4], dtype, init=None)
    check(weight_grad_scatter_shared, ref[weight_grad_scatter_shared], (dz, x, idx[0], dW0, db0), [3, 4],
          dtype, init=None)
    check(sparse_weight_grad_scatter, ref[sparse_weight_grad_scatter], (dz, xv, xi, idx, dW0, db0), [4, 5],
          dtype, init=None)


@pytest.mark.parametrize("dtype", DTYPES)
def test_weight_gradient_all_active_equals_dense_product(dtype):
    c = CASES["all-active"]
    a = make(c, dtype)
    dz, x, idx = a["dz"], a["x"], a["idx"]
    dense = dz.T @ x                                     # (D_out, N) @ (N, D_in) -> (D_out, D_in)
    tol = RTOL[dtype] * float((np.abs(dz).T @ np.abs(x)).max())
    for kernel, ids in ((weight_grad_scatter, idx), (weight_grad_scatter_parallel, idx),
                        (weight_grad_scatter_shared, idx[0])):
        dW = np.zeros((c.D_out, c.D_in), dtype)
        db = np.zeros(c.D_out, dtype)
        kernel(dz, x, ids, dW, db)
        np.testing.assert_allclose(dW, dense, rtol=0, atol=tol)
        np.testing.assert_allclose(db, dz.sum(axis=0), rtol=0, atol=RTOL[dtype] * 10)


@pytest.mark.parametrize("name", ["paper-5pct", "duplicates"])
def test_parallel_scatter_is_bitwise_serial(name):
    a = make(CASES[name], np.float32)
    dW = [np.zeros((a["W"].shape), np.float32) for _ in range(2)]
    db = [np.zeros(a["b"].shape, np.float32) for _ in range(2)]
    weight_grad_scatter(a["dz"], a["x"], a["idx"], dW[0], db[0])
    weight_grad_scatter_parallel(a["dz"], a["x"], a["idx"], dW[1], db[1])
    assert np.array_equal(dW[0], dW[1]) and np.array_equal(db[0], db[1])


@pytest.mark.parametrize("name", CASES)
def test_active_union_and_compact_gradient(name):
    c = CASES[name]
    a = make(c, np.float64)
    idx = a["idx"]
    cap = min(idx.size, c.D_out)
    rows, pos = check(active_union, active.REFERENCES[active_union],
                      (idx, c.D_out, np.empty(cap, np.int64), np.empty_like(idx)), [2, 3], np.int64, init=0)
    U = len(np.unique(idx))
    assert np.array_equal(rows[:U][pos], idx)            # rows[pos] reproduces every id
    # the compact gradient: the same scatter-add with positions instead of ids into (U, D_in)
    compact, db_c = np.zeros((U, c.D_in)), np.zeros(U)
    weight_grad_scatter(a["dz"], a["x"], pos, compact, db_c)
    dW, db = np.zeros((c.D_out, c.D_in)), np.zeros(c.D_out)
    weight_grad_scatter(a["dz"], a["x"], idx, dW, db)
    assert np.array_equal(compact, dW[rows[:U]]) and np.array_equal(db_c, db[rows[:U]])
    untouched = np.setdiff1d(np.arange(c.D_out), rows[:U])
    assert not dW[untouched].any()                       # row-sparse: nothing outside the active rows


# --------------------------------------------------------------------------------------------- costs

def test_every_kernel_has_reference_cost_and_warmup():
    for kernel in active.REFERENCES:
        module = next(m for m in active.MODULES if getattr(m, kernel.__name__, None) is kernel)
        assert callable(getattr(module, kernel.__name__ + "_cost")), kernel.__name__
    for module in active.MODULES:
        warmups = [v for k, v in vars(module).items() if k.startswith("warmup_")]
        assert len(warmups) == 1
        warmups[0]()


def test_costs_scale_with_the_active_set():
    from kernels import active_backward as B, active_forward as F, active_weight_grad as G
    D = 1000
    dense = matmul_cost(1, D, D, 4)
    assert F.active_forward_1_cost(D, D, 4).macs == dense.macs          # all active = dense work
    assert F.active_forward_1_cost(50, D, 4).macs == dense.macs // 20    # 5% active
    assert F.sparse_forward_1_cost(50, 50, 4).macs == 2500               # K_out x K_in
    assert B.backward_input_cost(20, 50, D, 4).macs == 20 * 50 * D
    assert G.weight_grad_scatter_1_cost(50, D, 4).bytes_written == (50 * D + 50) * 4
    # the shared set reads each row once, per-sample sets once per sample
    assert F.active_forward_shared_cost(20, 50, D, 4).bytes_read < F.active_forward_cost(20, 50, D, 4).bytes_read
    assert F.active_forward_cost(2, 5, 7, 8).macs == F.active_forward_parallel_cost(2, 5, 7, 8).macs
