"""P/Q transforms (kernels/lsh_transforms.py): kernel vs reference, and the MIPS identities they exist for."""
import numpy as np
import pytest

from kernels.lsh_transforms import (TRANSFORMS, make_transform, rows_extension, rows_extension_reference,
                                    transform_query_reference, transform_rows_reference)

DTYPES = (np.float32, np.float64)
RTOL = {np.float32: 2e-5, np.float64: 1e-12}


def _rows(rng, n, d, dtype):
    W = rng.standard_normal((n, d)) * rng.uniform(0.05, 3.0, size=(n, 1))   # norms vary a lot
    return W.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(TRANSFORMS))
@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (50, 13), (200, 64)])
@pytest.mark.parametrize("shrink_only", [False, True])
def test_rows_extension_matches_reference(rng, dtype, name, shape, shrink_only):
    t = make_transform(name, shrink_only=shrink_only)
    W = _rows(rng, *shape, dtype)
    W[0] = 0                                          # an all-zero row
    ext, ext_ref = (np.full((shape[0], t.m), np.nan, dtype=dtype) for _ in range(2))
    scale = rows_extension(W, t, ext)
    scale_ref = rows_extension_reference(W, t, ext_ref)
    np.testing.assert_allclose(scale, scale_ref, rtol=RTOL[dtype])
    if name == "simple_lsh":          # sqrt(1 - r^2) at r -> 1 amplifies rounding; its square does not
        ext, ext_ref = ext ** 2, ext_ref ** 2
    np.testing.assert_allclose(ext, ext_ref, rtol=RTOL[dtype], atol=RTOL[dtype])


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_all_zero_weights_give_finite_extension(name):
    t = make_transform(name)
    ext = np.empty((4, t.m), np.float32)
    assert rows_extension(np.zeros((4, 5), np.float32), t, ext) == 1.0
    assert np.isfinite(ext).all()


@pytest.mark.parametrize("name", ["l2_alsh", "sign_alsh", "simple_lsh"])
def test_global_rescale_puts_the_largest_row_norm_at_U(rng, name):
    t = make_transform(name)
    W = _rows(rng, 100, 20, np.float64)
    P, scale = transform_rows_reference(W, t)
    norms = np.linalg.norm(P[:, :20], axis=1)
    assert norms.max() == pytest.approx(t.U, rel=1e-12)
    np.testing.assert_allclose(norms, np.linalg.norm(W, axis=1) * scale, rtol=1e-12)  # one common factor


def test_shrink_only_leaves_small_rows_alone(rng):
    t = make_transform("l2_alsh", shrink_only=True)                  # the EDBT code's rule
    W = _rows(rng, 30, 10, np.float64)
    W *= 0.5 / np.linalg.norm(W, axis=1).max()                       # max norm 0.5 < U = 0.83
    assert rows_extension(W, t, np.empty((30, 3))) == 1.0
    W *= 4.0                                                         # max norm 2 > U: shrink to U
    assert rows_extension(W, t, np.empty((30, 3))) == pytest.approx(0.83 / 2.0)


def test_l2_alsh_distance_is_the_eq3_identity(rng):
    # |Q(a) - P(w)|^2 = 1 + m/4 - 2 <a, w>/|a| + |w|^(2^(m+1))  (Shrivastava & Li 2014): the last term
    # vanishes as m grows, so argmin distance -> argmax inner product (EDBT Eq. 3)
    t = make_transform("l2_alsh")
    W = _rows(rng, 40, 12, np.float64)
    a = rng.standard_normal(12)
    P, scale = transform_rows_reference(W, t)
    Q, valid = transform_query_reference(a, t)
    w = W * scale
    r = np.linalg.norm(w, axis=1)
    expected = 1 + t.m / 4 - 2 * (w @ a) / np.linalg.norm(a) + r ** (2 ** (t.m + 1))
    assert valid
    np.testing.assert_allclose(((Q - P) ** 2).sum(axis=1), expected, rtol=1e-10)


@pytest.mark.parametrize("name", ["simple_lsh", "sign_alsh"])
def test_cosine_after_transform_orders_rows_by_inner_product(rng, name):
    t = make_transform(name)
    W = _rows(rng, 60, 9, np.float64)
    a = rng.standard_normal(9)
    P, _ = transform_rows_reference(W, t)
    Q, _ = transform_query_reference(a, t)
    cos = (P @ Q) / np.linalg.norm(P, axis=1)                        # |Q| = 1
    if name == "simple_lsh":                                         # |P| = 1: cos is exactly <w, a> * s/|a|
        np.testing.assert_allclose(np.linalg.norm(P, axis=1), 1.0, rtol=1e-12)
        np.testing.assert_array_equal(np.argsort(cos), np.argsort(W @ a))
    else:                                                            # P . Q = <w, a> * s/|a| exactly
        np.testing.assert_allclose(P @ Q * np.linalg.norm(a), W @ a * (P[0, 0] / W[0, 0]), rtol=1e-10)


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_all_zero_query_is_invalid_not_nan(name):
    Q, valid = transform_query_reference(np.zeros(6, np.float32), make_transform(name))
    assert not valid and np.all(Q == 0)


def test_bad_transform_settings_are_user_errors():
    with pytest.raises(ValueError, match="choose one of"):
        make_transform("l3_alsh")
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        make_transform("l2_alsh", U=1.5)
    with pytest.raises(ValueError, match="1..8"):
        make_transform("sign_alsh", m=0)
