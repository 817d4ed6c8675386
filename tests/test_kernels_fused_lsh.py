"""ALSH's selection inside the fused step (kernels/fused_lsh.py) against its NumPy reference and the
strategy's own kernel calls (strategies/alsh.py: hash_query / hash_sparse_query, select, np.sort)."""
from types import SimpleNamespace as NS

import numpy as np
import pytest

from kernels import fused_lsh as FLSH
from kernels import lsh
from kernels.lsh_dwta import dwta_hash_query_reference
from kernels.lsh_hash import srp_hash_query_reference


def _index(rng, family, n, d, K, L, dtype):
    t = lsh.make_transform("l2_alsh")
    proj = lsh.draw_projection(rng, family, d + t.m, K, L, dtype=dtype, bin_bits=2)
    W = rng.standard_normal((n, d)).astype(dtype)
    codes, tables = np.empty((L, n), np.int32), lsh.make_tables(L, lsh.n_bits(proj), n)
    lsh.hash_rows(W, t, proj, codes)
    lsh.build_tables(codes, tables)
    return NS(t=t, proj=proj, tables=tables, qcodes=np.zeros(L, np.int32),
              out=np.zeros(n, np.int32), scratch=lsh.make_select_scratch(n, L))


def _fused(ix, l, x, policy, param, pool):
    """select_alsh on layer l of a one-layer index list (l > 0: ix twice, the sparse query)."""
    args = FLSH.lsh_args([ix] * (l + 1), policy, [param] * (l + 1), x.dtype)
    xi = np.flatnonzero(x).astype(np.int32)
    idx = np.zeros(ix.tables.ids.shape[1], np.int64)
    k = FLSH.select_alsh(l, x, x[xi], xi, xi.shape[0], args, pool.u, pool.cursor,
                         np.zeros(1 + len(pool.u)), idx)
    return idx[:k]


@pytest.mark.parametrize("dtype", (np.float32, np.float64))
@pytest.mark.parametrize("family", ("srp_rademacher", "dwta"))
@pytest.mark.parametrize("policy, param", [("edbt", 6), ("topfreq", 9), ("union", 0),
                                           ("threshold", 1)])
def test_select_alsh_equals_the_strategy_path_and_its_reference(rng, dtype, family, policy, param):
    ix = _index(rng, family, 60, 12, 3, 5, dtype)
    pools = [lsh.make_uniform_pool(np.random.default_rng(7)) for _ in range(3)]
    compared = 0
    for trial in range(40):
        x = np.maximum(rng.standard_normal(12), 0).astype(dtype)      # ReLU-like; may be all zero
        l = trial % 2
        got = _fused(ix, l, x, policy, param, pools[0])
        # the strategy's reference path: the same kernels called one by one
        xi = np.flatnonzero(x).astype(np.int32)
        valid = (lsh.hash_query(x, ix.t, ix.proj, ix.qcodes) if l == 0 else
                 lsh.hash_sparse_query(x[xi], xi, ix.t, ix.proj, ix.qcodes))
        size = lsh.select(policy, ix.tables, ix.qcodes, valid, param, pools[1], ix.out, ix.scratch)
        np.testing.assert_array_equal(got, np.sort(ix.out[:size]))
        # the plain-NumPy reference: hashing may round differently in the last bit (SRP), so
        # compare where its codes agree; the pool draws advance alike either way
        qref = ix.qcodes.copy()
        ref = FLSH.select_alsh_reference(x, ix.t, ix.proj, ix.tables, policy, param, pools[2],
                                         ix.scratch)
        h = dwta_hash_query_reference if family == "dwta" else srp_hash_query_reference
        h(x, ix.t, ix.proj, qref)
        if np.array_equal(qref, ix.qcodes):
            np.testing.assert_array_equal(got, ref)
            compared += 1
    assert compared >= 36
    assert pools[0].cursor[0] == pools[1].cursor[0]
