"""Column-row sampling (kernels/crs_sampling.py, kernels/crs_product.py).

Kernels are checked against the plain-NumPy references that open their modules; the estimators
against exact products and closed-form error formulas. Statistical checks are seeded (they cannot
flake) and their tolerances are stated in standard errors estimated from the draws themselves.
"""
import os
import sys

import numpy as np
import pytest

from kernels.crs_product import (crs_matmul, crs_workspace, gather_cols, gather_cols_ref,
                                 gather_operands, gather_rows, gather_rows_ref, outer_product,
                                 outer_product_ref, sampled_matmul, sampled_matmul_cost,
                                 sampled_matmul_ref)
from kernels.crs_norms import norm_products, norm_products_cost, norm_products_ref
from kernels.crs_sampling import (CrsSelection, CrsSpec, bernoulli_kernel, bernoulli_ref,
                                  crs_probabilities, sampling_cost, select)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from crs_norms_parallel import norm_products_parallel  # noqa: E402  (measured only, bench/)

DTYPES = (np.float32, np.float64)
RTOL = {np.float32: 2e-5, np.float64: 1e-12}
DRAWS = 4000      # Monte-Carlo draws per statistical check
Z_MAX = 5.0       # |mean - expected| <= 5 standard errors (P(false alarm) < 1e-5 per checked value)

SCALED = [CrsSpec("bernoulli"), CrsSpec("bernoulli", exact_k=True),
          CrsSpec("bernoulli", mix_eps=0.1), CrsSpec("bernoulli", "uniform"),
          CrsSpec("with_replacement"), CrsSpec("with_replacement", mix_eps=0.1),
          CrsSpec("with_replacement", "uniform"),
          CrsSpec("without_replacement"), CrsSpec("without_replacement", "uniform")]
ALL = SCALED + [CrsSpec("topk", scale=False), CrsSpec("bernoulli", scale=False),
                CrsSpec("without_replacement", scale=False)]
NPS = [s for s in ALL if s.dist == "nps"]


def _ids(specs):
    return [f"{s.sampler}-{s.dist}{'-exactk' if s.exact_k else ''}{'-mix' if s.mix_eps else ''}"
            f"{'' if s.scale else '-unscaled'}" for s in specs]


def operands(m=5, n=12, p=7, seed=1, dtype=np.float64):
    """A (m, n), B (n, p) with column-row norms spread over two decades, one pair dominant, so that
    Eq. 7 clips at k = 4 and norm-proportional sampling differs clearly from uniform."""
    rng = np.random.default_rng(seed)
    A = (rng.standard_normal((m, n)) + 0.3) * np.geomspace(0.1, 3.0, n)
    B = rng.standard_normal((n, p)) + 0.2
    B[n - 1] *= 3.0
    return A.astype(dtype), B.astype(dtype)


def draws(A, B, k, spec, seed=0, count=DRAWS, sizes=False):
    """`count` estimates (count, m, p), and with `sizes` also the number of pairs each kept."""
    rng = np.random.default_rng(seed)
    runs = [crs_matmul(A, B, k, rng, spec) for _ in range(count)]
    est = np.stack([out for out, _ in runs])
    return (est, np.array([sel.kept for _, sel in runs])) if sizes else est


# --------------------------------------------------------------------------- kernels vs references

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("shapes", [(5, 12, 7), (1, 9, 4), (6, 1, 3), (20, 30, 1)])
def test_norm_products_match_reference_in_every_layout(dtype, parallel, shapes):
    m, n, p = shapes
    A, B = operands(m, n, p, dtype=dtype)
    A[:, 0] = 0                                   # an all-zero column: c_0 = 0
    wide = np.zeros((m, 2 * n), dtype)
    wide[:, ::2] = A                              # a strided, non-contiguous view of A
    expect = norm_products_ref(A, B)
    for a in (A, np.asfortranarray(A), wide[:, ::2]):
        for b in (B, np.asfortranarray(B)):
            got = (norm_products_parallel if parallel else norm_products)(a, b)
            assert got.dtype == np.float64
            np.testing.assert_allclose(got, expect, rtol=RTOL[dtype], atol=0)


def test_norm_products_with_one_side_given():
    A, B = operands()
    expect = norm_products_ref(A, B)
    np.testing.assert_allclose(norm_products(A, B, b_norms=np.linalg.norm(B, axis=1)), expect)
    np.testing.assert_allclose(norm_products(A, B, a_norms=np.linalg.norm(A, axis=0)), expect)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("idx", [[3, 0, 3, 7], [], [5]], ids=["duplicates", "empty", "one"])
def test_gather_kernels_equal_reference(dtype, idx):
    X = operands(6, 8, 1, dtype=dtype)[0]
    idx = np.array(idx, np.int64)
    scale = np.linspace(0.5, 2.0, len(idx)).astype(dtype)
    for sc in (None, scale):
        dummy = np.empty(0, dtype) if sc is None else sc
        rows = np.empty((len(idx), 6), dtype)
        gather_rows(X.T.copy(), idx, dummy, sc is not None, rows)     # X.T (8, 6): pick of rows
        np.testing.assert_array_equal(rows, gather_rows_ref(X.T, idx, sc))
        cols = np.empty((6, len(idx)), dtype)
        gather_cols(X, idx, dummy, sc is not None, cols)
        np.testing.assert_array_equal(cols, gather_cols_ref(X, idx, sc))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mnp", [(3, 10, 9), (9, 10, 3), (1, 10, 6)],
                         ids=["scale-A", "scale-B", "batch1"])
@pytest.mark.parametrize("layout", ["CC", "FC", "CF", "FF"])
def test_sampled_matmul_equals_reference(dtype, mnp, layout):
    A, B = operands(*mnp, dtype=dtype)
    A = np.asfortranarray(A) if layout[0] == "F" else A
    B = np.asfortranarray(B) if layout[1] == "F" else B
    sel = CrsSelection(np.array([1, 4, 5, 8]), np.array([2.0, 0.5, 3.0, 1.5], dtype), 10)
    expect = sampled_matmul_ref(A, B, sel)
    a_buf, b_buf = crs_workspace(mnp[0], mnp[2], 10, dtype)
    out = np.empty((mnp[0], mnp[2]), dtype)
    got = sampled_matmul(A, B, sel, out=out, a_buf=a_buf, b_buf=b_buf)
    assert got is out and got.dtype == dtype
    np.testing.assert_allclose(got, expect, rtol=RTOL[dtype], atol=RTOL[dtype])
    Ag, Bg = gather_operands(A, B, sel, a_buf, b_buf)          # gathered into the caller's buffers
    assert np.shares_memory(Ag, a_buf) and np.shares_memory(Bg, b_buf)
    tiny = np.empty(1, dtype)                                  # too small: allocates, same result
    np.testing.assert_allclose(sampled_matmul(A, B, sel, a_buf=tiny, b_buf=tiny), expect,
                               rtol=RTOL[dtype], atol=RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_bernoulli_kernel_equals_reference(dtype, eps):
    rng = np.random.default_rng(4)
    c = rng.exponential(size=300)
    c[::7] = 0.0
    c[5] = 1e3                                                      # clipped at prob 1
    u = rng.random(300)
    idx, scale = np.empty(300, np.int64), np.empty(300, dtype)
    for do_scale in (True, False):
        s = bernoulli_kernel(c, 40 / c.sum(), eps, u, do_scale, idx, scale)
        ref_idx, ref_scale = bernoulli_ref(c, 40 / c.sum(), eps, u, do_scale)
        np.testing.assert_array_equal(idx[:s], ref_idx)
        if do_scale:
            np.testing.assert_allclose(scale[:s], ref_scale, rtol=RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_one_pair_and_inner_dimension_one_use_the_outer_product(dtype):
    A, B = operands(7, 5, 9, dtype=dtype)
    out = np.empty((7, 9), dtype)
    outer_product(A[:, 2].copy(), B[2].copy(), dtype(3.0), out)
    np.testing.assert_allclose(out, outer_product_ref(A[:, 2], B[2], 3.0), rtol=RTOL[dtype])
    for a, b in ((A, B), (np.asfortranarray(A), np.asfortranarray(B))):
        sel = CrsSelection(np.array([2]), np.array([3.0], dtype), 5)
        np.testing.assert_allclose(sampled_matmul(a, b, sel), sampled_matmul_ref(A, B, sel),
                                   rtol=RTOL[dtype])
    col, row = A[:, :1], B[:1]                  # batch 1's dY^T (D_out, 1) @ X (1, D_in): n = 1
    got, sel = crs_matmul(col, row, 1, None)
    assert sel.idx is None
    np.testing.assert_allclose(got, col @ row, rtol=RTOL[dtype])


# --------------------------------------------------------------------------- exact limits

@pytest.mark.parametrize("spec", ALL, ids=_ids(ALL))
@pytest.mark.parametrize("dtype", DTYPES)
def test_k_at_least_n_is_the_exact_product(spec, dtype):
    A, B = operands(dtype=dtype)
    for k in (12, 50):
        out, sel = crs_matmul(A, B, k, np.random.default_rng(0), spec)
        assert sel.idx is None and sel.kept == 12
        np.testing.assert_array_equal(out, A @ B)


@pytest.mark.parametrize("spec", NPS, ids=_ids(NPS))
def test_fewer_nonzero_pairs_than_k_keeps_them_all_unscaled(spec):
    A, B = operands()
    A[:, [0, 1, 2, 5, 6, 9, 10]] = 0                                # c_i = 0 through A ...
    B[[7, 8]] = 0                                                   # ... and through B: nnz(c) = 3
    out, sel = crs_matmul(A, B, 4, np.random.default_rng(0), spec)
    np.testing.assert_array_equal(sel.idx, [3, 4, 11])
    assert sel.scale is None
    np.testing.assert_allclose(out, A @ B, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_keeping_every_pair_through_the_gather_path_is_exact(dtype):
    A, B = operands(dtype=dtype)
    for scale in (None, np.ones(12, dtype)):
        sel = CrsSelection(np.arange(12), scale, 12)
        for a, b in ((A, B), (np.asfortranarray(A), np.asfortranarray(B))):
            np.testing.assert_allclose(sampled_matmul(a, b, sel), A @ B, rtol=RTOL[dtype] * 10)


@pytest.mark.parametrize("spec", NPS, ids=_ids(NPS))
def test_all_zero_norm_products_give_an_exact_zero(spec):
    A, B = operands()
    A[:, :6] = 0
    B[6:] = 0                                                       # A, B non-zero, every c_i = 0
    out, sel = crs_matmul(A, B, 4, np.random.default_rng(0), spec)
    assert sel.kept == 0
    np.testing.assert_array_equal(out, np.zeros((5, 7)))
    np.testing.assert_array_equal(A @ B, out)


def test_bernoulli_drawing_nothing_gives_zero_not_a_fallback():
    A, B = operands()
    spec = CrsSpec("bernoulli", "uniform")                          # P(s = 0) = (11/12)^12 = 0.35
    for seed in range(20):
        out, sel = crs_matmul(A, B, 1, np.random.default_rng(seed), spec)
        if sel.kept == 0:
            np.testing.assert_array_equal(out, 0)
            return
    pytest.fail("no empty Bernoulli draw in 20 seeds (expected ~7)")


# ------------------------------------------------------------------------- probabilities, samplers

def test_bernoulli_probabilities_follow_eq7_and_the_options():
    c = np.array([40.0, 5.0, 3.0, 1.0, 1.0, 0.0])
    k = 3
    p = crs_probabilities(c, k, CrsSpec())
    np.testing.assert_allclose(p, np.minimum(k * c / 50.0, 1.0))       # Eq. 7: sum p = 2.4 < k
    mixed = crs_probabilities(c, k, CrsSpec(mix_eps=0.1))
    np.testing.assert_allclose(mixed, 0.9 * p + 0.1 / 6)                # reference code, after clip
    exact = crs_probabilities(c, k, CrsSpec(exact_k=True))
    # Worked: pair 0 clips; the rest share 2 = alpha (5+3+1+1) -> alpha = 0.2 -> pair 1 at 1.0
    # clips too; the rest share 1 = alpha (3+1+1) -> alpha = 0.2.
    np.testing.assert_allclose(exact, [1.0, 1.0, 0.6, 0.2, 0.2, 0.0])
    assert exact.sum() == pytest.approx(k)


def test_topk_keeps_the_largest_norm_products():
    A, B = operands()
    sel = select(A, B, 4, None, CrsSpec("topk", scale=False))
    np.testing.assert_array_equal(sel.idx, np.sort(np.argsort(norm_products_ref(A, B))[-4:]))
    assert sel.scale is None


def test_with_replacement_merges_duplicates_into_counts():
    A, B = operands()
    sel = select(A, B, 11, np.random.default_rng(3), CrsSpec("with_replacement", scale=False))
    assert np.all(np.diff(sel.idx) > 0) and sel.scale.sum() == 11   # unique, counts add up to k
    assert sel.scale.max() > 1                                      # the dominant pair repeats


@pytest.mark.parametrize("spec", ALL, ids=_ids(ALL))
def test_same_seed_same_choice_and_replay(spec):
    A, B = operands(dtype=np.float32)
    out1, sel1 = crs_matmul(A, B, 4, np.random.default_rng(7), spec)
    out2, sel2 = crs_matmul(A, B, 4, np.random.default_rng(7), spec)
    np.testing.assert_array_equal(sel1.idx, sel2.idx)
    np.testing.assert_array_equal(out1, out2)
    assert out1.dtype == np.float32 and (sel1.scale is None or sel1.scale.dtype == np.float32)
    replay, same = crs_matmul(A.astype(np.float64), B.astype(np.float64), 4, None, spec, sel=sel1)
    assert same is sel1                                             # replayed, not redrawn
    np.testing.assert_allclose(replay, out1, rtol=1e-5, atol=1e-5)
    if spec.sampler != "topk":
        choices = {tuple(select(A, B, 4, np.random.default_rng(s), spec).idx) for s in range(10)}
        assert len(choices) > 1


def test_bad_arguments_are_refused():
    A, B = operands()
    with pytest.raises(ValueError, match="at least 1"):
        select(A, B, 0, None)
    with pytest.raises(ValueError, match="inner dimensions"):
        select(A, B[:5], 2, None)
    with pytest.raises(ValueError, match="unknown CRS sampler"):
        CrsSpec("reservoir")
    with pytest.raises(ValueError, match="never scaled"):
        CrsSpec("topk")
    with pytest.raises(ValueError, match="mix_eps"):
        CrsSpec(mix_eps=1.5)
    with pytest.raises(ValueError, match="inner dimension"):
        crs_matmul(A, B, 4, None, sel=CrsSelection(np.arange(3), None, 9))
    with pytest.raises(TypeError, match="dtype"):
        sampled_matmul(A, B.astype(np.float32), CrsSelection(np.arange(3), None, 12))


# --------------------------------------------------------------------------- statistics

def _max_z(samples, expected):
    se = samples.std(axis=0, ddof=1) / np.sqrt(len(samples))
    return np.max(np.abs(samples.mean(axis=0) - expected) / se)


@pytest.mark.parametrize("spec", SCALED, ids=_ids(SCALED))
def test_scaled_estimators_are_unbiased(spec):
    A, B = operands()
    assert _max_z(draws(A, B, 4, spec), A @ B) < Z_MAX


def test_unbiasedness_check_detects_a_biased_estimator():
    A, B = operands()                                              # the check above has power:
    assert _max_z(draws(A, B, 4, CrsSpec("bernoulli", scale=False)), A @ B) > 4 * Z_MAX


@pytest.mark.parametrize("spec", [CrsSpec(), CrsSpec(exact_k=True), CrsSpec(mix_eps=0.1)],
                         ids=["eq7", "exact-k", "mix"])
def test_bernoulli_frobenius_error_matches_the_formula(spec):
    """E||AB - est||_F^2 = sum_i (1 - p_i)/p_i |A_:,i|^2 |B_i,:|^2   (EDBT §6.2; Adelman 2021)."""
    A, B = operands()
    c = norm_products_ref(A, B)
    p = crs_probabilities(c, 4, spec)
    formula = np.sum((1 - p) / p * c**2)
    est, sizes = draws(A, B, 4, spec, sizes=True)
    sq_err = np.sum((est - A @ B) ** 2, axis=(1, 2))
    assert abs(sq_err.mean() - formula) < Z_MAX * sq_err.std(ddof=1) / np.sqrt(DRAWS)
    assert abs(sizes.mean() - p.sum()) < Z_MAX * sizes.std(ddof=1) / np.sqrt(DRAWS)


def test_with_replacement_frobenius_error_matches_drineas():
    """E||AB - est||_F^2 = (sum_i c_i^2 / p_i - ||AB||_F^2) / k  (Drineas, Kannan, Mahoney 2006)."""
    A, B = operands()
    spec = CrsSpec("with_replacement", mix_eps=0.1)
    p = crs_probabilities(norm_products_ref(A, B), 4, spec)
    formula = (np.sum(norm_products_ref(A, B) ** 2 / p) - np.sum((A @ B) ** 2)) / 4
    sq_err = np.sum((draws(A, B, 4, spec) - A @ B) ** 2, axis=(1, 2))
    assert abs(sq_err.mean() - formula) < Z_MAX * sq_err.std(ddof=1) / np.sqrt(DRAWS)


# --------------------------------------------------------------------------- costs

def test_costs_worked_by_hand():
    # dX = dY (20, 1000) @ W (1000, 1000), float32, 100 pairs kept, scaled on dY's side (20 < 1000)
    c = norm_products_cost(20, 1000, 1000, 4)
    assert c == (20_000 + 1_000_000 + 1_000, (20_000 + 1_000_000) * 4, 1_000 * 8)
    s = sampled_matmul_cost(20, 1000, 1000, 100, 4, scaled=True)
    gather = (2_000, (2_000 + 100_000) * 4 + 100 * 8 + 100 * 4, (2_000 + 100_000) * 4)
    product = (20 * 100 * 1000, (2_000 + 100_000) * 4, 20 * 1000 * 4)
    assert s == tuple(g + q for g, q in zip(gather, product))
    assert sampled_matmul_cost(20, 1000, 1000, 1000, 4, True) == (20_000_000, 4_080_000, 80_000)
    # W's norms given: only dY is read (plus the n given norms)
    assert norm_products_cost(20, 1000, 1000, 4, b_known=True) == (21_000, 80_000 + 8_000, 8_000)
    # Bernoulli over n = 1000: a multiply and a uniform per pair; 100 indices and fp32 scales out
    assert sampling_cost(1000, 100, 100, 4, CrsSpec()) == (2_000, 16_000, 1_200)
    assert sampling_cost(20, 20, 20, 4, CrsSpec()) == (0, 0, 0)
