"""Hash families (kernels/lsh_hash.py, kernels/lsh_dwta.py): kernels vs references, collision statistics."""
import numpy as np
import pytest

from kernels import lsh
from kernels.lsh_dwta import (dwta_hash_query_reference, dwta_hash_rows_reference,
                              dwta_hash_sparse_query_reference)
from kernels.lsh_hash import (srp_hash_query_reference, srp_hash_rows_reference,
                              srp_hash_sparse_query_reference)
from kernels.lsh_transforms import transform_query_reference, transform_rows_reference

DTYPES = (np.float32, np.float64)
SRP = ("srp_gaussian", "srp_rademacher", "srp_sparse")
# a sign bit may legitimately differ between two summation orders when the projection is this close
# to zero, relative to |x| |r|; everything farther away must agree exactly
NEAR_ZERO = {np.float32: 1e-4, np.float64: 1e-10}


def _safe_tables(X, proj, dtype):
    """(L, n) bool: tables whose K projections of the rows of X (n, dim) are all clear of zero."""
    X = X.astype(np.float64)
    planes = proj.planes.astype(np.float64)
    v = X @ planes.T                                                     # (n, dim) @ (dim, KL)
    scale = np.linalg.norm(X, axis=1)[:, None] * np.linalg.norm(planes, axis=1)[None, :]
    clear = np.abs(v) > NEAR_ZERO[dtype] * scale                         # (n, KL)
    return clear.reshape(len(X), proj.L, proj.K).all(axis=2).T


def _assert_codes_agree(codes, ref, safe):
    assert safe.mean() > 0.97, "too many near-zero projections: the comparison would prove little"
    np.testing.assert_array_equal(codes[safe], ref[safe])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("family", SRP)
@pytest.mark.parametrize("name", list(lsh.TRANSFORMS))
@pytest.mark.parametrize("n, d, K, L", [(1, 5, 1, 1), (64, 20, 6, 5), (300, 101, 8, 3)])
def test_srp_rows_and_queries_match_reference(rng, dtype, family, name, n, d, K, L):
    t = lsh.make_transform(name)
    proj = lsh.draw_projection(rng, family, d + t.m, K, L, dtype=dtype)
    W = (rng.standard_normal((n, d)) * rng.uniform(0.1, 2, (n, 1))).astype(dtype)
    if n > 1:
        W[-1] = 0                                                        # an all-zero row
    codes, ref = np.empty((L, n), np.int32), np.empty((L, n), np.int32)
    scale = lsh.hash_rows(W, t, proj, codes)
    assert scale == pytest.approx(srp_hash_rows_reference(W, t, proj, ref))
    _assert_codes_agree(codes, ref, _safe_tables(transform_rows_reference(W, t)[0], proj, dtype))
    if n > 1 and name in ("none", "l2_alsh"):                           # P(0) = 0: every projection is
        np.testing.assert_array_equal(codes[:, -1], (1 << K) - 1)        # exactly 0, every bit is set

    q = np.maximum(rng.standard_normal(d), 0).astype(dtype)             # ReLU-like: about half zeros
    idx = np.flatnonzero(q).astype(np.int32)
    qc, qs, qref = (np.empty(L, np.int32) for _ in range(3))
    assert lsh.hash_query(q, t, proj, qc) and srp_hash_query_reference(q, t, proj, qref)
    assert lsh.hash_sparse_query(q[idx], idx, t, proj, qs)
    assert srp_hash_sparse_query_reference(q[idx], idx, t, proj, qref)
    safe = _safe_tables(transform_query_reference(q, t)[0][None, :], proj, dtype)[:, 0]
    np.testing.assert_array_equal(qc[safe], qref[safe])
    np.testing.assert_array_equal(qs[safe], qref[safe])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["none", "l2_alsh", "simple_lsh"])
@pytest.mark.parametrize("n, d, K, L, bin_bits", [(1, 3, 1, 1, 1), (50, 40, 3, 4, 2), (120, 30, 2, 9, 3)])
def test_dwta_rows_and_queries_match_reference(rng, dtype, name, n, d, K, L, bin_bits):
    t = lsh.make_transform(name)
    proj = lsh.draw_projection(rng, "dwta", d + t.m, K, L, bin_bits=bin_bits)
    W = rng.standard_normal((n, d)).astype(dtype)
    W[rng.random((n, d)) < 0.5] = 0                                      # empty bins force densification
    codes, ref = np.empty((L, n), np.int32), np.empty((L, n), np.int32)
    lsh.hash_rows(W, t, proj, codes)
    dwta_hash_rows_reference(W, t, proj, ref)
    np.testing.assert_array_equal(codes, ref)
    assert codes.min() >= 0 and codes.max() < 1 << lsh.n_bits(proj)
    for density in (1.0, 0.2, 0.02):
        q = (rng.random(d) * (rng.random(d) < density)).astype(dtype)
        q[0] = 1.0                                                       # keep at least one non-zero
        idx = np.flatnonzero(q).astype(np.int32)
        qc, qs, qref = (np.empty(L, np.int32) for _ in range(3))
        assert lsh.hash_query(q, t, proj, qc) and lsh.hash_sparse_query(q[idx], idx, t, proj, qs)
        assert dwta_hash_query_reference(q, t, proj, qref)
        np.testing.assert_array_equal(qc, qref)
        np.testing.assert_array_equal(qs, qref)
        assert dwta_hash_sparse_query_reference(q[idx], idx, t, proj, qref)
        np.testing.assert_array_equal(qs, qref)


@pytest.mark.parametrize("family", SRP + ("dwta",))
@pytest.mark.parametrize("name", list(lsh.TRANSFORMS))
def test_all_zero_query_is_flagged_with_zero_codes(rng, family, name):
    t = lsh.make_transform(name)
    proj = lsh.draw_projection(rng, family, 12 + t.m, 3, 4)
    out = np.full(4, 7, np.int32)
    assert not lsh.hash_query(np.zeros(12, np.float32), t, proj, out) and not out.any()
    out[:] = 7
    assert not lsh.hash_sparse_query(np.zeros(0, np.float32), np.zeros(0, np.int32), t, proj, out)
    assert not out.any()
    assert not lsh.hash_sparse_query(np.zeros(2, np.float32), np.array([1, 5], np.int32), t, proj, out)


def _vectors_at_angle(rng, d, theta):
    x = rng.standard_normal(d)
    x /= np.linalg.norm(x)
    y = rng.standard_normal(d)
    y -= (y @ x) * x
    y /= np.linalg.norm(y)
    return x, np.cos(theta) * x + np.sin(theta) * y


@pytest.mark.parametrize("K", [1, 3])
def test_gaussian_srp_collision_probability_is_one_minus_angle_over_pi(rng, K):
    # 20,000 independent tables: the collision rate of a pair has std <= sqrt(1/4 / 20000) = 0.0035;
    # the tolerance 0.018 is over 5 std, and the seed is fixed
    L, d, t = 20000, 32, lsh.make_transform("none")
    proj = lsh.draw_projection(rng, "srp_gaussian", d, K, L, dtype=np.float64)
    for theta in (0.1 * np.pi, 0.3 * np.pi, 0.5 * np.pi, 0.8 * np.pi):
        x, y = _vectors_at_angle(rng, d, theta)
        rows, qc = np.empty((L, 1), np.int32), np.empty(L, np.int32)
        lsh.hash_rows(x[None, :], t, proj, rows)
        lsh.hash_query(y, t, proj, qc)
        assert np.mean(rows[:, 0] == qc) == pytest.approx((1 - theta / np.pi) ** K, abs=0.018)


@pytest.mark.parametrize("family", ["srp_rademacher", "srp_sparse"])
def test_discrete_srp_collision_probability_is_close_to_the_gaussian_one(rng, family):
    # +-1 (and sparse +-1) projections of d = 256 coordinates are near-Gaussian by the CLT; we allow
    # 0.03 = the 0.018 sampling tolerance plus a 0.012 allowance for the non-Gaussian entries
    L, d, t = 20000, 256, lsh.make_transform("none")
    proj = lsh.draw_projection(rng, family, d, 1, L, dtype=np.float64)
    for theta in (0.2 * np.pi, 0.5 * np.pi, 0.7 * np.pi):
        x, y = _vectors_at_angle(rng, d, theta)
        rows, qc = np.empty((L, 1), np.int32), np.empty(L, np.int32)
        lsh.hash_rows(x[None, :], t, proj, rows)
        lsh.hash_query(y, t, proj, qc)
        assert np.mean(rows[:, 0] == qc) == pytest.approx(1 - theta / np.pi, abs=0.03)


def test_projections_are_drawn_from_the_generator_and_redrawn_in_place():
    a = lsh.draw_projection(np.random.default_rng(3), "srp_sparse", 31, 4, 5, ratio=3)
    b = lsh.draw_projection(np.random.default_rng(3), "srp_sparse", 31, 4, 5, ratio=3)
    np.testing.assert_array_equal(a.planes, b.planes)
    assert set(np.unique(a.planes)) <= {-1.0, 0.0, 1.0}
    np.testing.assert_array_equal((a.planes != 0).sum(axis=1), 11)     # ceil(31 / 3) per bit
    np.testing.assert_array_equal(a.planes_by_coord, a.planes.T)
    planes = a.planes
    lsh.redraw_projection(np.random.default_rng(4), a)
    assert a.planes is planes and not np.array_equal(a.planes, b.planes)
    np.testing.assert_array_equal(a.planes_by_coord, a.planes.T)
    r = lsh.draw_projection(np.random.default_rng(3), "srp_rademacher", 31, 4, 5)
    assert set(np.unique(r.planes)) == {-1.0, 1.0}
    w1 = lsh.draw_projection(np.random.default_rng(3), "dwta", 31, 4, 5)
    slots = w1.slots.copy()
    lsh.redraw_projection(np.random.default_rng(5), w1)
    assert not np.array_equal(slots, w1.slots)
    used = np.sort(w1.slots[w1.slots >= 0])                              # every slot filled once
    np.testing.assert_array_equal(used, np.arange(4 * 5 * 8))
    p, i = np.nonzero(w1.slots >= 0)                                     # bins is the inverse map
    np.testing.assert_array_equal(w1.bins.reshape(-1)[w1.slots[p, i]], i)


def test_dwta_identical_vectors_collide_in_every_table(rng):
    t = lsh.make_transform("none")
    proj = lsh.draw_projection(rng, "dwta", 50, 4, 20, bin_bits=2)
    W = rng.standard_normal((10, 50)).astype(np.float32)
    codes, qc = np.empty((20, 10), np.int32), np.empty(20, np.int32)
    lsh.hash_rows(W, t, proj, codes)
    lsh.hash_query(3.0 * W[4], t, proj, qc)                              # rank based: scale invariant
    np.testing.assert_array_equal(qc, codes[:, 4])


def test_bad_family_settings_are_user_errors(rng):
    with pytest.raises(ValueError, match="choose one of"):
        lsh.draw_projection(rng, "minhash", 10, 6, 5)
    with pytest.raises(ValueError, match="K <= 30"):
        lsh.draw_projection(rng, "srp_gaussian", 10, 31, 5)
    with pytest.raises(ValueError, match="bin_bits"):
        lsh.draw_projection(rng, "dwta", 10, 12, 5, bin_bits=3)


def test_query_cost_is_the_stated_projection():
    proj = lsh.draw_projection(np.random.default_rng(0), "srp_gaussian", 1003, 6, 5)
    dense = lsh.hash_query_cost(proj, 1000, 3, 4)
    assert dense.macs == 1000 + 1003 * 30                                # |q|^2, then (d + m) x K L
    assert lsh.hash_query_cost(proj, 1000, 3, 4, nnz=50).macs == 50 + 53 * 30
    rows = lsh.hash_rows_cost(proj, 1000, 1000, 3, 4)
    assert rows.macs == 1000 * 1000 + 1000 * 1003 * 30 + 1000 * 30       # norms, projection, scale
