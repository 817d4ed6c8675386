"""CSR hash tables and active-set selection (kernels/lsh_tables.py, kernels/lsh_select.py)."""
import numpy as np
import pytest

from kernels import lsh
from kernels.lsh_select import (select_edbt_reference, select_random_reference, select_threshold_reference,
                                select_topfreq_reference, select_union_reference)
from kernels.lsh_tables import bucket, build_tables_reference


def _tables(codes, n_bits):
    tables = lsh.make_tables(codes.shape[0], n_bits, codes.shape[1])
    lsh.build_tables(codes, tables)
    return tables


def _pools(seed, size=4096):
    """Two pools holding the same uniforms: one for the kernel, one for the reference."""
    return (lsh.make_uniform_pool(np.random.default_rng(seed), size),
            lsh.make_uniform_pool(np.random.default_rng(seed), size))


@pytest.mark.parametrize("L, n_bits, n", [(1, 1, 1), (3, 4, 50), (5, 6, 1000), (2, 10, 300)])
def test_csr_build_equals_dict_of_lists(rng, L, n_bits, n):
    codes = rng.integers(0, 1 << n_bits, size=(L, n)).astype(np.int32)
    codes[0] = codes[0, 0]                                               # one table with a single bucket
    ref = lsh.make_tables(L, n_bits, n)
    build_tables_reference(codes, ref)
    tables = _tables(codes, n_bits)
    np.testing.assert_array_equal(tables.offsets, ref.offsets)
    np.testing.assert_array_equal(tables.ids, ref.ids)


def test_rebuild_writes_into_the_same_arrays(rng):
    codes = rng.integers(0, 16, size=(3, 40)).astype(np.int32)
    tables = _tables(codes, 4)
    offsets, ids = tables.offsets, tables.ids
    codes2 = rng.integers(0, 16, size=(3, 40)).astype(np.int32)
    lsh.build_tables(codes2, tables)
    assert tables.offsets is offsets and tables.ids is ids
    fresh = _tables(codes2, 4)
    np.testing.assert_array_equal(tables.offsets, fresh.offsets)
    np.testing.assert_array_equal(tables.ids, fresh.ids)


def test_rebuild_after_a_weight_change_moves_the_changed_units(rng):
    n, d, K, L = 200, 30, 6, 5
    t = lsh.make_transform("none")
    proj = lsh.draw_projection(rng, "srp_gaussian", d, K, L)
    W = rng.standard_normal((n, d)).astype(np.float32)
    codes = np.empty((L, n), np.int32)
    lsh.hash_rows(W, t, proj, codes)
    tables = _tables(codes, K)
    old = codes.copy()
    W[7] = -W[7]                                                         # every sign bit of unit 7 flips
    lsh.hash_rows(W, t, proj, codes)
    lsh.build_tables(codes, tables)
    np.testing.assert_array_equal(codes[:, 7], (1 << K) - 1 - old[:, 7])
    np.testing.assert_array_equal(np.delete(codes, 7, axis=1), np.delete(old, 7, axis=1))
    for tt in range(L):
        assert 7 in bucket(tables, tt, codes[tt, 7]) and 7 not in bucket(tables, tt, old[tt, 7])
    fresh = _tables(codes, K)
    np.testing.assert_array_equal(tables.ids, fresh.ids)


POLICY_CASES = [("edbt", 0), ("edbt", 1), ("edbt", 5), ("edbt", 30), ("edbt", 120), ("topfreq", 0),
                ("topfreq", 7), ("topfreq", 120), ("union", None), ("threshold", 1), ("threshold", 2)]


@pytest.mark.parametrize("policy, param", POLICY_CASES)
@pytest.mark.parametrize("L, n_bits", [(1, 2), (5, 3), (4, 6)])
def test_selection_kernels_equal_their_references(rng, policy, param, L, n_bits):
    n = 120
    tables = _tables(rng.integers(0, 1 << n_bits, size=(L, n)).astype(np.int32), n_bits)
    ref_fn = {"edbt": select_edbt_reference, "topfreq": select_topfreq_reference,
              "union": select_union_reference, "threshold": select_threshold_reference}[policy]
    pool, pool_ref = _pools(7)
    scratch, scratch_ref = lsh.make_select_scratch(n, L), lsh.make_select_scratch(n, L)
    out, out_ref = np.full(n, -1, np.int32), np.full(n, -1, np.int32)
    for trial in range(40):
        qcodes = rng.integers(0, 1 << n_bits, size=L).astype(np.int32)
        valid = trial % 10 != 9                                          # now and then a zero query
        size = lsh.select(policy, tables, qcodes, valid, param, pool, out, scratch)
        if policy == "edbt":
            size_ref = ref_fn(tables, qcodes, valid, param, pool_ref, out_ref, scratch_ref)
        elif policy == "union":
            size_ref = ref_fn(tables, qcodes, valid, out_ref, scratch_ref)
        else:
            size_ref = ref_fn(tables, qcodes, valid, param, out_ref, scratch_ref)
        assert size == size_ref
        np.testing.assert_array_equal(out[:size], out_ref[:size])
        assert pool.cursor[0] == pool_ref.cursor[0]                      # the same draws were used
        assert not scratch.mark.any()                                    # scratch left clean
        assert len(set(out[:size])) == size and (size == 0 or 0 <= out[:size].min() <= out[:size].max() < n)


def test_draws_larger_than_the_pool_come_from_the_generator(rng):
    n, L, tau = 120, 4, 30                                               # (L + 5) tau = 270 > 16
    tables = _tables(rng.integers(0, 8, size=(L, n)).astype(np.int32), 3)
    pool, pool_ref = _pools(11, size=16)
    out, out_ref, scratch = np.empty(n, np.int32), np.empty(n, np.int32), lsh.make_select_scratch(n, L)
    for _ in range(5):
        qcodes = rng.integers(0, 8, size=L).astype(np.int32)
        size = lsh.select("edbt", tables, qcodes, True, tau, pool, out, scratch)
        assert size == select_edbt_reference(tables, qcodes, True, tau, pool_ref, out_ref, None)
        np.testing.assert_array_equal(out[:size], out_ref[:size])
        k = lsh.select_random(n, 10, pool, out, scratch)                 # 50 > 16 as well
        assert k == select_random_reference(n, 10, pool_ref, out_ref, None)
        np.testing.assert_array_equal(out[:k], out_ref[:k])


@pytest.mark.parametrize("tau", [1, 2, 10, 50, 99, 100])
def test_edbt_size_bounds_and_bucket_cap(rng, tau):
    n, L, n_bits = 100, 5, 3
    scratch, out = lsh.make_select_scratch(n, L), np.empty(n, np.int32)
    pool = lsh.make_uniform_pool(rng)
    tables = _tables(rng.integers(0, 1 << n_bits, size=(L, n)).astype(np.int32), n_bits)
    for _ in range(50):
        qcodes = rng.integers(0, 1 << n_bits, size=L).astype(np.int32)
        size = lsh.select("edbt", tables, qcodes, True, tau, pool, out, scratch)
        assert tau <= size <= min(n, 2 * tau - 1)
        first = set(bucket(tables, 0, qcodes[0]))        # table 0 is always probed
        got = set(out[:size])
        assert len(got & first) == min(len(first), tau)                  # whole bucket, or exactly tau of it
    one_bucket = _tables(np.zeros((L, n), np.int32), n_bits)             # every unit in bucket 0
    size = lsh.select("edbt", one_bucket, np.zeros(L, np.int32), True, tau, pool, out, scratch)
    assert size == tau                                                   # capped, then early stop


def test_edbt_cap_takes_a_uniform_subset(rng):
    # all 40 units share one bucket, tau = 10: each unit is picked with probability 1/4. Over 4,000
    # draws a count has std sqrt(4000 * 0.25 * 0.75) = 27.4 around 1000; we allow 5 std (seeded)
    n, tau, draws = 40, 10, 4000
    tables = _tables(np.zeros((2, n), np.int32), 2)
    scratch, out, pool = lsh.make_select_scratch(n, 2), np.empty(n, np.int32), lsh.make_uniform_pool(rng)
    counts = np.zeros(n)
    for _ in range(draws):
        size = lsh.select("edbt", tables, np.zeros(2, np.int32), True, tau, pool, out, scratch)
        counts[out[:size]] += 1
    assert np.abs(counts - draws * tau / n).max() < 5 * 27.4


def test_random_selection_is_uniform_distinct_and_equals_reference(rng):
    n, k, draws = 50, 20, 3000                                # p = 0.4: std sqrt(3000 .4 .6) = 26.8
    scratch = lsh.make_select_scratch(n, 1)
    pool, pool_ref = _pools(3)
    out, out_ref = np.empty(n, np.int32), np.empty(n, np.int32)
    counts = np.zeros(n)
    for trial in range(draws):
        assert lsh.select_random(n, k, pool, out, scratch) == k
        assert len(set(out[:k])) == k
        counts[out[:k]] += 1
        if trial < 20:
            select_random_reference(n, k, pool_ref, out_ref, None)
            np.testing.assert_array_equal(out[:k], out_ref[:k])
    assert np.abs(counts - draws * k / n).max() < 5 * 26.8
    assert sorted(out[:lsh.select_random(n, n, pool, out, scratch)]) == list(range(n))  # k = n


def test_topfreq_threshold_and_union_on_a_hand_built_table():
    # 3 tables over 6 units; the query hits bucket 1 in each:
    #   table 0 bucket 1 = {0, 2, 4}; table 1 bucket 1 = {2, 4, 5}; table 2 bucket 1 = {4, 1}
    # collision counts: 4 -> 3, 2 -> 2, 0/5/1 -> 1; found order 0, 2, 4, 5, 1
    codes = np.array([[1, 0, 1, 0, 1, 0],
                      [0, 0, 1, 0, 1, 1],
                      [0, 1, 0, 0, 1, 0]], np.int32)
    tables = _tables(codes, 1)
    q = np.ones(3, np.int32)
    scratch, out = lsh.make_select_scratch(6, 3), np.empty(6, np.int32)
    size = lsh.select("topfreq", tables, q, True, 3, None, out, scratch)
    assert list(out[:size]) == [4, 2, 0]                                 # ties (count 1) in found order
    size = lsh.select("topfreq", tables, q, True, 6, None, out, scratch)
    assert list(out[:size]) == [4, 2, 0, 5, 1]                           # no fill: 5 found, 5 returned
    size = lsh.select("threshold", tables, q, True, 1, None, out, scratch)
    assert list(out[:size]) == [2, 4]
    size = lsh.select("union", tables, q, True, None, None, out, scratch)
    assert list(out[:size]) == [0, 2, 4, 5, 1]
    for policy in ("topfreq", "threshold", "union"):                     # zero query: empty, caller decides
        assert lsh.select(policy, tables, q, False, 1, None, out, scratch) == 0


def test_zero_query_under_edbt_is_a_random_fill(rng):
    tables = _tables(np.zeros((2, 30), np.int32), 1)
    scratch, out, pool = lsh.make_select_scratch(30, 2), np.empty(30, np.int32), lsh.make_uniform_pool(rng)
    size = lsh.select("edbt", tables, np.zeros(2, np.int32), False, 8, pool, out, scratch)
    assert size == 8 and len(set(out[:8])) == 8


def test_bad_selection_settings_are_errors(rng):
    tables = _tables(np.zeros((2, 10), np.int32), 1)
    scratch, out, pool = lsh.make_select_scratch(10, 2), np.empty(10, np.int32), lsh.make_uniform_pool(rng)
    with pytest.raises(ValueError, match="tau"):
        lsh.select("edbt", tables, np.zeros(2, np.int32), True, 11, pool, out, scratch)
    with pytest.raises(ValueError, match="choose one of"):
        lsh.select("nearest", tables, np.zeros(2, np.int32), True, 1, pool, out, scratch)
    with pytest.raises(ValueError, match="out holds"):
        lsh.select("union", tables, np.zeros(2, np.int32), True, 1, pool, out[:5], scratch)
    with pytest.raises(ValueError, match="bits"):
        lsh.make_tables(2, 25, 10)
