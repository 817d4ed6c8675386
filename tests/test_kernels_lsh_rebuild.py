"""A layer's table rebuild in one compiled call (kernels/lsh_rebuild.py) against the separate calls
it replaces (bit for bit: published ALSH runs depend on these tables) and its NumPy reference."""
import numpy as np
import pytest
from test_kernels_lsh_hash import _assert_codes_agree, _safe_tables

from kernels import lsh
from kernels.lsh_rebuild import rebuild_reference
from kernels.lsh_tables import build_tables_reference
from kernels.lsh_transforms import transform_rows_reference

FAMILIES = ("srp_gaussian", "srp_rademacher", "srp_sparse", "dwta")


def _layer(rng, family, name, n, d, K, L, dtype, shrink_only=False):
    t = lsh.make_transform(name, shrink_only=shrink_only)
    proj = lsh.draw_projection(rng, family, d + t.m, K, L, dtype=dtype, bin_bits=2)
    W = (rng.standard_normal((n, d)) * rng.uniform(0.01, 0.3, (n, 1))).astype(dtype)
    W[rng.random((n, d)) < 0.3] = 0                    # DWTA: empty bins force densification
    W[n // 2] = 0                                      # an all-zero row
    return t, proj, W


@pytest.mark.parametrize("dtype", (np.float32, np.float64))
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("name", list(lsh.TRANSFORMS))
@pytest.mark.parametrize("shrink_only", (False, True))
def test_rebuild_equals_the_separate_calls_bit_for_bit(rng, dtype, family, name, shrink_only):
    t, proj, W = _layer(rng, family, name, 300, 101, 3, 4, dtype, shrink_only)
    bits = lsh.n_bits(proj)
    codes, old = np.empty((4, 300), np.int32), np.empty((4, 300), np.int32)
    tables, old_tables = lsh.make_tables(4, bits, 300), lsh.make_tables(4, bits, 300)
    buffers = lsh.make_rebuild_buffers(W, t, proj)
    for step in range(3):                              # the buffers are reused across rebuilds
        scale = lsh.rebuild(W, t, proj, codes, tables, *buffers)
        assert scale == lsh.hash_rows(W, t, proj, old)
        lsh.build_tables(old, old_tables)
        np.testing.assert_array_equal(codes, old)
        np.testing.assert_array_equal(tables.offsets, old_tables.offsets)
        np.testing.assert_array_equal(tables.ids, old_tables.ids)
        W += (rng.standard_normal(W.shape) * 0.05).astype(dtype)


@pytest.mark.parametrize("dtype", (np.float32, np.float64))
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("name", ["none", "l2_alsh", "simple_lsh"])
def test_rebuild_matches_its_numpy_reference(rng, dtype, family, name):
    t, proj, W = _layer(rng, family, name, 200, 40, 4, 5, dtype)
    bits = lsh.n_bits(proj)
    codes, ref = np.empty((5, 200), np.int32), np.empty((5, 200), np.int32)
    tables, ref_tables = lsh.make_tables(5, bits, 200), lsh.make_tables(5, bits, 200)
    scale = lsh.rebuild(W, t, proj, codes, tables, *lsh.make_rebuild_buffers(W, t, proj))
    assert scale == pytest.approx(rebuild_reference(W, t, proj, ref, ref_tables))
    if family == "dwta":                               # rank based: no rounding in the comparison
        np.testing.assert_array_equal(codes, ref)
        np.testing.assert_array_equal(tables.ids, ref_tables.ids)
    else:     # a sign may differ where a projection is within rounding of zero (summation order)
        _assert_codes_agree(codes, ref, _safe_tables(transform_rows_reference(W, t)[0], proj, dtype))
    build_tables_reference(codes, ref_tables)          # the tables of the kernel's own codes
    np.testing.assert_array_equal(tables.offsets, ref_tables.offsets)
    np.testing.assert_array_equal(tables.ids, ref_tables.ids)


def test_rebuild_rejects_buffers_of_another_layer(rng):
    t, proj, W = _layer(rng, "srp_gaussian", "l2_alsh", 20, 8, 2, 3, np.float32)
    ext, work = lsh.make_rebuild_buffers(W[:10], t, proj)
    with pytest.raises(ValueError, match="do not fit"):
        lsh.rebuild(W, t, proj, np.empty((3, 20), np.int32), lsh.make_tables(3, 2, 20), ext, work)
