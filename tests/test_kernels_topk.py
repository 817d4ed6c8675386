"""TOPK kernels (kernels/topk.py, kernels/topk_update.py) against their plain-NumPy references.

Cases cover several sizes, input densities from all-zero to dense, both dtypes, batch 1 and batch N.
Tolerance for sums: |kernel - reference| <= rtol * B with B the reference run on absolute values
(rtol 1e-5 float32, 1e-12 float64), as in test_kernels_active.py. Selections must match exactly.
"""
import numpy as np
import pytest

from kernels import topk as KT
from kernels import topk_update as KU

RTOL = {np.float32: 1e-5, np.float64: 1e-12}
DTYPES = [np.float32, np.float64]
SIZES = [(1, 7, 5), (1, 784, 1000), (4, 64, 200), (9, 45, 70)]      # (N, D_in, D_out)
DENSITIES = [0.0, 0.05, 0.3, 1.0]


def sparse_input(rng, N, D_in, density, dtype):
    X = rng.standard_normal((N, D_in)).astype(dtype)
    X[rng.random((N, D_in)) >= density] = 0
    return X


def layer(rng, D_in, D_out, dtype):
    WT = rng.standard_normal((D_in, D_out)).astype(dtype)        # input-major, C-contiguous
    b = rng.standard_normal(D_out).astype(dtype)
    return WT, b


def close(got, ref, bound, dtype):
    assert np.all(np.abs(got - ref) <= RTOL[dtype] * np.maximum(bound, 1e-30))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("density", DENSITIES)
@pytest.mark.parametrize("N,D_in,D_out", SIZES)
def test_scoring_equals_reference_and_dense_product(N, D_in, D_out, density, dtype):
    rng = np.random.default_rng(D_in + D_out)
    X = sparse_input(rng, N, D_in, density, dtype)
    WT, b = layer(rng, D_in, D_out, dtype)
    Z, Zref, B = (np.empty((N, D_out), dtype) for _ in range(3))
    KT.score(X, WT, b, Z)
    KT.score_reference(X, WT, b, Zref)
    KT.score_reference(np.abs(X), np.abs(WT), np.abs(b), B)
    close(Z, Zref, B, dtype)
    for n in range(N):
        xi = np.flatnonzero(X[n])
        z = np.empty(D_out, dtype)
        KT.score_1(X[n, xi], xi, WT, b, z)
        zref = np.empty(D_out, dtype)
        KT.score_1_reference(X[n, xi], xi, WT, b, zref)
        close(z, zref, B[n], dtype)
        close(z, X[n] @ WT + b, B[n], dtype)        # the dense product of the whole input


def argpartition_values(z, k):
    return np.sort(z[np.argpartition(-z, k - 1)[:k]])


@pytest.mark.parametrize("k", [1, 3, 50, 199, 200])
@pytest.mark.parametrize("values", ["continuous", "ties", "all-equal", "all-zero-input"])
def test_selection_is_the_stable_top_k_and_holds_argpartitions_values(values, k):
    rng = np.random.default_rng(k)
    N, D = 6, 200
    if values == "continuous":
        Z = rng.standard_normal((N, D))
    elif values == "ties":
        Z = rng.integers(-3, 4, (N, D)).astype(np.float64)       # 7 values: ties at every boundary
    elif values == "all-equal":
        Z = np.full((N, D), 0.5)
    else:   # an all-zero input scores z = b: the biases decide
        WT, b = layer(rng, 30, D, np.float64)
        Z = np.empty((N, D))
        KT.score(np.zeros((N, 30)), WT, b, Z)
        assert np.array_equal(Z, np.tile(b, (N, 1)))
    for dtype in DTYPES:
        Zd = Z.astype(dtype)
        S, Sref = np.empty((N, k), np.int64), np.empty((N, k), np.int64)
        KT.select_topk(Zd, k, S)
        KT.select_topk_reference(Zd, k, Sref)
        assert np.array_equal(S, Sref)
        for n in range(N):
            assert np.all(np.diff(S[n]) > 0)                          # ascending, distinct
            assert np.array_equal(np.sort(Zd[n, S[n]]), argpartition_values(Zd[n], k))
            S1 = np.empty(k, np.int64)
            KT.select_topk_1(Zd[n], k, S1)
            assert np.array_equal(S1, S[n])
        if values == "all-equal":                                     # the tie rule: lowest ids
            assert np.array_equal(S, np.tile(np.arange(k), (N, 1)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("density", DENSITIES)
@pytest.mark.parametrize("N,D_in,D_out", SIZES)
def test_block_backward_input_equals_reference(N, D_in, D_out, density, dtype):
    rng = np.random.default_rng(3 * D_in + D_out)
    X = sparse_input(rng, N, D_in, density, dtype)
    WT, _ = layer(rng, D_in, D_out, dtype)
    K = max(D_out // 10, 1)
    S = np.sort(np.stack([rng.choice(D_out, K, replace=False) for _ in range(N)]), axis=1)
    dZ = rng.standard_normal((N, K)).astype(dtype)
    dX, dXref, B = (np.empty((N, D_in), dtype) for _ in range(3))
    KT.block_backward_input(dZ, S, X, WT, dX)
    KT.block_backward_input_reference(dZ, S, X, WT, dXref)
    KT.block_backward_input_reference(np.abs(dZ), S, X, np.abs(WT), B)
    close(dX, dXref, B, dtype)
    for n in range(N):
        xi = np.flatnonzero(X[n])
        dx, dxref = np.empty(xi.shape[0], dtype), np.empty(xi.shape[0], dtype)
        KT.block_backward_input_1(dZ[n], S[n], xi, WT, dx)
        KT.block_backward_input_1_reference(dZ[n], S[n], xi, WT, dxref)
        close(dx, dxref, B[n, xi], dtype)


def _block(rng, N, D_in, D_out, dtype):
    rows = np.sort(rng.choice(D_in, max(D_in // 4, 1), replace=False))
    cols = np.sort(rng.choice(D_out, max(D_out // 5, 1), replace=False))
    A = rng.standard_normal((N, rows.shape[0])).astype(dtype)
    G = rng.standard_normal((N, cols.shape[0])).astype(dtype)
    return A, G, rows, cols


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opt", ["sgd", "momentum", "adam", "adagrad"])
@pytest.mark.parametrize("N,D_in,D_out", SIZES)
def test_block_updates_equal_reference_and_touch_only_the_block(N, D_in, D_out, opt, dtype):
    rng = np.random.default_rng(D_in * 7 + D_out)
    WT, b = layer(rng, D_in, D_out, dtype)
    state = [np.abs(rng.standard_normal((D_in, D_out))).astype(dtype) for _ in range(2)]
    bstate = [np.abs(rng.standard_normal(D_out)).astype(dtype) for _ in range(2)]
    t_units = rng.integers(0, 5, D_out)
    before = [WT, b, *state, *bstate, t_units]
    for step in range(3):                       # a different block each step
        A, G, rows, cols = _block(rng, N, D_in, D_out, dtype)
        got = [a.copy() for a in before]
        ref = [a.copy() for a in before]
        for arr, suffix in ((got, ""), (ref, "_reference")):
            W_, b_, s1, s2, sb1, sb2, t_ = arr
            if opt in ("sgd", "momentum"):
                mu = dtype(0.9 if opt == "momentum" else 0)
                getattr(KU, "sgd_block" + suffix)(W_, s1, b_, sb1, A, G, rows, cols, dtype(0.01), mu)
            elif opt == "adam":
                getattr(KU, "adam_block" + suffix)(W_, s1, s2, b_, sb1, sb2, A, G, rows, cols, t_,
                                                   1e-3, 0.9, 0.999, 1e-8)
            else:
                getattr(KU, "adagrad_block" + suffix)(W_, s1, b_, sb1, A, G, rows, cols,
                                                      dtype(0.01), dtype(1e-8))
        for g, r in zip(got, ref):
            np.testing.assert_allclose(g, r, rtol=20 * RTOL[dtype], atol=20 * RTOL[dtype])
        # only the block of W and state, and the kept units' bias entries and counts, moved
        outside = np.ones((D_in, D_out), bool)
        outside[np.ix_(rows, cols)] = False
        others = np.setdiff1d(np.arange(D_out), cols)
        for i, (g, a0) in enumerate(zip(got, before)):
            mask = outside if g.ndim == 2 else others
            assert np.array_equal(g[mask], a0[mask])
        moved = got[0][np.ix_(rows, cols)] != before[0][np.ix_(rows, cols)]
        assert moved.mean() > 0.9
        before = ref


def test_costs_count_the_block():
    assert KT.score_cost(50, 1000, 4).macs == 50_000
    assert KT.block_backward_input_cost(50, 50, 4).macs == 2500
    assert KU.block_update_cost(50, 50, 1, 4, 2).macs == 2500
    assert KT.select_cost(1000, 50, 4).macs == 0
