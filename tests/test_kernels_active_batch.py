"""Ragged batch-N kernels (kernels/active_batch.py) against their plain-NumPy references.

Seeded cases with a different number of kept units and non-zero inputs per sample, including an
empty sample, a sample with every unit, and units shared by several samples. Tolerance as in
test_kernels_active.py: rtol times the largest sum of |terms|.
"""
import numpy as np
import pytest

from kernels import active_batch as KB
from kernels.active_weight_grad import active_union

RTOL = {np.float32: 1e-5, np.float64: 1e-12}
CASES = {            # N, D_in, D_out, kept fraction of units, non-zero fraction of inputs
    "small": (3, 17, 11, 0.4, 0.5),
    "paper-5pct": (20, 300, 1000, 0.05, 0.05),
    "wide-inputs": (7, 64, 40, 0.3, 0.9),
}


def make(case, dtype, seed=0):
    N, D_in, D_out, fk, fj = case
    rng = np.random.default_rng(seed)
    mask = rng.random((N, D_out)) < fk
    mask[0] = False                                   # an empty sample
    mask[-1] = True                                   # a sample that keeps every unit
    xmask = rng.random((N, D_in)) < fj
    xmask[1 % N] = False                              # a sample with no non-zero input
    x = (rng.standard_normal((N, D_in)) * xmask).astype(dtype)
    ptr = np.concatenate([[0], np.cumsum(mask.sum(axis=1))]).astype(np.int64)
    idx = np.ascontiguousarray(np.nonzero(mask)[1], np.int64)
    xs, xi = (np.ascontiguousarray(a, np.int64) for a in np.nonzero(xmask))
    xptr = np.concatenate([[0], np.cumsum(xmask.sum(axis=1))]).astype(np.int64)
    return dict(x=x, W=rng.standard_normal((D_out, D_in)).astype(dtype),
                b=rng.standard_normal(D_out).astype(dtype), ptr=ptr, idx=idx, xptr=xptr, xi=xi,
                xv=x[xs, xi], dz=rng.standard_normal(idx.shape[0]).astype(dtype))


def check(kernel, args, out_at, dtype):
    """Run kernel and its reference on copies (outputs pre-filled with garbage); compare outputs
    against the reference with a bound from the reference run on absolute values."""
    ref = KB.REFERENCES[kernel]
    a1 = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    a2 = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    a3 = [np.abs(a) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else
          (a.copy() if isinstance(a, np.ndarray) else a) for a in args]
    for i in out_at:
        a1[i][...] = np.nan
    kernel(*a1)
    ref(*a2)
    ref(*a3)
    for i in out_at:
        bound = RTOL[dtype] * max(float(np.abs(a3[i]).max(initial=0)), 1.0)
        np.testing.assert_allclose(a1[i], a2[i], rtol=0, atol=bound)
    return [a1[i] for i in out_at]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CASES)
def test_ragged_kernels_match_reference(name, dtype):
    N, D_in, D_out = CASES[name][:3]
    a = make(CASES[name], dtype)
    x, W, b, ptr, idx, xptr, xi, xv, dz = (a[k] for k in ("x", "W", "b", "ptr", "idx", "xptr",
                                                          "xi", "xv", "dz"))
    P, Q = idx.shape[0], xi.shape[0]
    z = check(KB.ragged_forward, (x, W, b, ptr, idx, np.empty(P, dtype)), [5], dtype)[0]
    zs = check(KB.ragged_sparse_forward, (xv, xptr, xi, W, b, ptr, idx, np.empty(P, dtype)), [7],
               dtype)[0]
    np.testing.assert_allclose(zs, z, rtol=0, atol=RTOL[dtype] * 100)   # x is zero outside xi
    dx = check(KB.ragged_backward_input, (dz, W, ptr, idx, np.empty((N, D_in), dtype)), [4],
               dtype)[0]
    dxv = check(KB.ragged_sparse_backward_input, (dz, W, ptr, idx, xptr, xi, np.empty(Q, dtype)),
                [6], dtype)[0]
    xs = np.repeat(np.arange(N), np.diff(xptr))
    np.testing.assert_allclose(dxv, dx[xs, xi], rtol=0, atol=RTOL[dtype] * 100)
    rows, pos = np.empty(min(P, D_out), np.int64), np.empty(P, np.int64)
    U = active_union(idx, D_out, rows, pos)
    g, db = check(KB.weight_grad_rows, (dz, x, ptr, pos, np.empty((U, D_in), dtype),
                                        np.empty(U, dtype)), [4, 5], dtype)
    gs, dbs = check(KB.sparse_weight_grad_rows, (dz, xv, xptr, xi, ptr, pos,
                                                 np.empty((U, D_in), dtype), np.empty(U, dtype)),
                    [6, 7], dtype)
    np.testing.assert_allclose(gs, g, rtol=0, atol=RTOL[dtype] * 100)
    np.testing.assert_allclose(dbs, db, rtol=0, atol=RTOL[dtype] * 100)
    # the compact rows are the dense gradient's rows of the union: dW = sum_n outer(dz_n, x_n)
    dW = np.zeros((D_out, D_in))
    for n in range(N):
        s = slice(ptr[n], ptr[n + 1])
        dW[idx[s]] += np.outer(dz[s], x[n])
    np.testing.assert_allclose(g, dW[rows[:U]], rtol=0, atol=RTOL[dtype] * 100 * np.abs(dW).max())
    assert not dW[np.setdiff1d(np.arange(D_out), rows[:U])].any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CASES)
def test_csr_of_a_dense_batch_matches_reference(name, dtype):
    x = make(CASES[name], dtype)["x"]
    N = x.shape[0]
    ptr, ref_ptr = np.full(N + 1, -1, np.int64), np.empty(N + 1, np.int64)
    P = KB.csr_count(x, ptr)
    assert P == KB.csr_count_reference(x, ref_ptr) == np.count_nonzero(x)
    assert np.array_equal(ptr, ref_ptr)
    out = [np.full(P, -1, np.int64), np.full(P, -1, np.int64), np.full(P, np.nan, dtype)]
    ref = [np.empty(P, np.int64), np.empty(P, np.int64), np.empty(P, dtype)]
    KB.csr_fill(x, ptr, *out)
    KB.csr_fill_reference(x, ptr, *ref)
    for a, r in zip(out, ref):
        assert np.array_equal(a, r)


def test_costs_count_the_pairs():
    assert KB.ragged_forward_cost(20, 1000, 784, 4).macs == 1000 * 784
    assert KB.ragged_sparse_forward_cost(20, 1000, 1000, 2500, 4).macs == 2500
    assert KB.sparse_weight_grad_rows_cost(20, 1000, 1000, 2500, 640, 1000, 4).bytes_written \
        == (640 * 1000 + 640) * 4


@pytest.mark.parametrize("lazy", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CASES)
def test_adam_from_pairs_matches_reference(name, dtype, lazy):
    from kernels import active_batch_adam as KA
    N, D_in, D_out = CASES[name][:3]
    a = make(CASES[name], dtype)
    P = a["idx"].shape[0]
    rows, pos = np.empty(min(P, D_out), np.int64), np.empty(P, np.int64)
    U = active_union(a["idx"], D_out, rows, pos)
    rowpos = np.full(D_out, -1, np.int64)
    rowpos[rows[:U]] = np.arange(U)
    visit = rows[:U].copy() if lazy else np.arange(D_out)
    rng = np.random.default_rng(2)
    W, m = (rng.standard_normal((D_out, D_in)).astype(dtype) for _ in range(2))
    v = rng.random((D_out, D_in)).astype(dtype)
    step, corr = (rng.random(D_out).astype(dtype) + dtype(0.5) for _ in range(2))
    b1, b2, c1, c2, eps = dtype(0.9), dtype(0.999), dtype(0.1), dtype(0.001), dtype(1e-8)
    for sparse in (False, True):
        out = [W.copy(), m.copy(), v.copy()]
        ref = [W.copy(), m.copy(), v.copy()]
        args = (a["dz"], a["x"], a["xptr"], a["xi"], a["xv"], sparse, a["ptr"], pos, U, visit, rowpos,
                step, corr, b1, b2, c1, c2, eps, np.empty(D_in, dtype))
        KA.adam_pairs(*out, *args)
        KA.adam_pairs_reference(*ref, *args)
        for o, r in zip(out, ref):
            np.testing.assert_allclose(o, r, rtol=RTOL[dtype] * 100, atol=RTOL[dtype] * 100)
        untouched = np.setdiff1d(np.arange(D_out), visit)
        assert np.array_equal(out[0][untouched], W[untouched])       # rows not visited stay
        assert not np.array_equal(out[0][visit], W[visit]) or not len(visit)
