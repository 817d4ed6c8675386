"""Fused optimiser kernels against their plain-NumPy references (kernels/update.py), and the
references against the textbook formulas."""
import numpy as np
import pytest

from kernels import update as K

CASES = [  # (name, rows given, visit all rows (dense state))
    ("all rows", False, True),
    ("row-sparse, dense state", True, True),
    ("row-sparse, lazy state", True, False),
]


def _problem(rng, dtype, n=3, d_out=6, d_in=5, rows=None):
    W = rng.standard_normal((d_out, d_in)).astype(dtype)
    R = d_out if rows is None else len(rows)
    G = rng.standard_normal((n, R)).astype(dtype)
    A = rng.standard_normal((n, d_in)).astype(dtype)
    pos = np.arange(d_out) if rows is None else np.full(d_out, -1)
    if rows is not None:
        pos[rows] = np.arange(R)
    return W, G, A, pos.astype(np.int64)


def _visit(rows, dense, d_out):
    return np.arange(d_out, dtype=np.int64) if (rows is None or dense) else rows


@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("case,sparse,dense", CASES)
@pytest.mark.parametrize("materialized", [False, True])
def test_adam_kernels_match_reference(rng, dtype, tol, case, sparse, dense, materialized):
    rows = np.array([4, 1, 2], dtype=np.int64) if sparse else None
    W, G, A, pos = _problem(rng, dtype, rows=rows)
    visit = _visit(rows, dense, W.shape[0])
    m = rng.random(W.shape).astype(dtype)
    v = rng.random(W.shape).astype(dtype)
    step = rng.random(W.shape[0]).astype(dtype)
    corr = (1 + rng.random(W.shape[0])).astype(dtype)
    b1, b2, eps = dtype(0.9), dtype(0.999), dtype(1e-4)
    c1, c2 = dtype(1 - 0.9), dtype(1 - 0.999)
    g = (G.T @ A) if materialized else None
    ref = [W.copy(), m.copy(), v.copy()]
    K.adam_ref(*ref, G, A, g, visit, pos, step, corr, b1, b2, c1, c2, eps)
    scratch = np.empty(W.shape[1], dtype)
    if materialized:
        K.adam_materialized(W, m, v, g, visit, pos, step, corr, b1, b2, c1, c2, eps, scratch)
    else:
        K.adam_factored(W, m, v, G, A, visit, pos, step, corr, b1, b2, c1, c2, eps, scratch)
    for got, want in zip((W, m, v), ref):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("mu", [0.0, 0.9])
@pytest.mark.parametrize("case,sparse,dense", CASES)
@pytest.mark.parametrize("materialized", [False, True])
def test_sgd_kernels_match_reference(rng, mu, case, sparse, dense, materialized):
    rows = np.array([0, 5], dtype=np.int64) if sparse else None
    W, G, A, pos = _problem(rng, np.float64, rows=rows)
    visit = _visit(rows, dense, W.shape[0])
    vel = rng.standard_normal(W.shape)
    g = (G.T @ A) if materialized else None
    ref = [W.copy(), vel.copy()]
    K.sgd_ref(*ref, G, A, g, visit, pos, 0.1, mu)
    scratch = np.empty(W.shape[1])
    if materialized:
        K.sgd_materialized(W, vel, g, visit, pos, 0.1, mu, scratch)
    else:
        K.sgd_factored(W, vel, G, A, visit, pos, 0.1, mu, scratch)
    np.testing.assert_allclose(W, ref[0], rtol=1e-12)
    np.testing.assert_allclose(vel, ref[1], rtol=1e-12)


@pytest.mark.parametrize("materialized", [False, True])
def test_adagrad_kernels_match_reference(rng, materialized):
    rows = np.array([3, 0], dtype=np.int64)
    W, G, A, pos = _problem(rng, np.float64, rows=rows)
    visit = np.arange(W.shape[0], dtype=np.int64)
    h = rng.random(W.shape)
    g = (G.T @ A) if materialized else None
    ref = [W.copy(), h.copy()]
    K.adagrad_ref(*ref, G, A, g, visit, pos, 0.1, 1e-6)
    if materialized:
        K.adagrad_materialized(W, h, g, visit, pos, 0.1, 1e-6)
    else:
        K.adagrad_factored(W, h, G, A, visit, pos, 0.1, 1e-6, np.empty(W.shape[1]))
    np.testing.assert_allclose(W, ref[0], rtol=1e-12)
    np.testing.assert_allclose(h, ref[1], rtol=1e-12)
    untouched = [r for r in range(W.shape[0]) if r not in rows]
    np.testing.assert_array_equal(h[untouched], ref[1][untouched])


def test_adam_reference_is_the_textbook_update(rng):
    """Two steps of the reference equal Kingma & Ba's bias-corrected Adam written out by hand."""
    W0 = rng.standard_normal((2, 3))
    grads = [rng.standard_normal((2, 3)) for _ in range(2)]
    lr, b1, b2, eps = 1e-2, 0.9, 0.999, 1e-8
    W, m, v = W0.copy(), np.zeros_like(W0), np.zeros_like(W0)
    visit = pos = np.arange(2)
    for t, g in enumerate(grads, start=1):
        step = np.full(2, lr / (1 - b1 ** t))
        corr = np.full(2, 1 / np.sqrt(1 - b2 ** t))
        K.adam_ref(W, m, v, None, None, g, visit, pos, step, corr, b1, b2, 1 - b1, 1 - b2, eps)
    Wt, mt, vt = W0.copy(), 0.0, 0.0
    for t, g in enumerate(grads, start=1):
        mt = b1 * mt + (1 - b1) * g
        vt = b2 * vt + (1 - b2) * g * g
        Wt = Wt - lr * (mt / (1 - b1 ** t)) / (np.sqrt(vt / (1 - b2 ** t)) + eps)
    np.testing.assert_allclose(W, Wt, rtol=1e-12)


@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-5), (np.float64, 1e-12)])
def test_fused_backward_sgd_matches_reference(rng, dtype, tol):
    W = rng.standard_normal((7, 5)).astype(dtype)
    g, a = rng.standard_normal(7).astype(dtype), rng.standard_normal(5).astype(dtype)
    ref_W, ref_dx = W.copy(), np.empty(5, dtype)
    K.sgd_backward_fused_ref(ref_W, g, a, dtype(0.1), ref_dx)
    dx = np.empty(5, dtype)
    K.sgd_backward_fused(W, g, a, dtype(0.1), dx)
    np.testing.assert_allclose(W, ref_W, rtol=tol, atol=tol)
    np.testing.assert_allclose(dx, ref_dx, rtol=tol, atol=tol)
