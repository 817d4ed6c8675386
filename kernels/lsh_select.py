"""Active-set selection from the L buckets a query hashes to (reference-implementations.md §4, §6).

    edbt       probe tables in order t = 0..L-1; stop before a table once |S| >= tau; a bucket larger
               than tau contributes a uniformly random tau-subset; then add uniformly random units
               until |S| >= tau. So tau <= |S| <= 2 tau - 1 (the EDBT code, Approx_LSH/lsh_hashbucket.py)
    topfreq    count in how many of the L buckets each unit lies; keep the ceil(s n) = n_keep most
               frequent (ties: first retrieved first); no fill, may be smaller (KDD'17 histogramLSH)
    union      every unit of every probed bucket (LSH-Mutual-Information's query)
    threshold  units found in more than theta buckets (SLIDE mode 1, THRESH = 2)
    random     a uniformly random k-subset: the zero-query fallback and the baseline for recall

An invalid (all-zero) query probes nothing: edbt and random return a random fill, the others an
empty set and the caller decides. The output is unit ids in `out[:size]` in the order found (not
sorted) and `size` is returned. Every call restores `scratch.mark` to zeros, so scratch is
allocated once per layer and a call costs O(units read), never O(n) (except the dense-fill path).

Randomness is pre-drawn: a `UniformPool` holds a block of uniforms from the caller's Generator and
a cursor; a draw of an integer in [0, m) is floor(u m). (Passing a Generator into a Numba function
costs ~12 us of unboxing per call here, more than hashing a query.) The pool is refilled from the
Generator before a call that could run out, so results are reproducible for a seed.

Shape legend: L tables, n units, NB buckets; out (n,) int32; mark (n,) int32; buf (n,) int32.
"""
from typing import NamedTuple

import numpy as np

from ._jit import jit, register_warmup
from .cost import Cost
from .lsh_tables import bucket, build_tables, make_tables


class UniformPool(NamedTuple):
    rng: np.random.Generator
    u: np.ndarray            # (P,) float64 uniforms in [0, 1)
    cursor: np.ndarray       # (1,) int64: next unused entry of u


def make_uniform_pool(rng, size=1 << 15):
    return UniformPool(rng, rng.random(size), np.zeros(1, np.int64))


def _uniforms(pool, need):
    """(u, cursor) holding at least `need` unused uniforms: the pool, refilled if it runs low, or a
    one-off block for a call larger than the pool."""
    if need > len(pool.u):
        return pool.rng.random(need), np.zeros(1, np.int64)
    if len(pool.u) - pool.cursor[0] < need:
        pool.u[:] = pool.rng.random(len(pool.u))
        pool.cursor[0] = 0
    return pool.u, pool.cursor


class SelectScratch(NamedTuple):
    mark: np.ndarray         # (n,) int32, zero between calls: membership flag / collision count
    buf: np.ndarray          # (n,) int32
    hist: np.ndarray         # (L + 2,) int32


def make_select_scratch(n, L):
    return SelectScratch(np.zeros(n, np.int32), np.zeros(n, np.int32), np.zeros(L + 2, np.int32))


# ---------------------------------------------------------------------------------------------
# References (plain Python sets and lists; same draws from the pool in the same order)
# ---------------------------------------------------------------------------------------------

def _draw_ref(u, cursor, m):
    j = min(int(u[cursor[0]] * m), m - 1)
    cursor[0] += 1
    return j


def _fill_ref(n, target, S, u, cursor):
    need, free = target - len(S), n - len(S)
    attempts = 4 * need if 0 < need and 2 * need <= free else 0    # rejection while >= half is free
    while len(S) < target and attempts > 0:
        attempts -= 1
        j = _draw_ref(u, cursor, n)
        if j not in S:
            S.append(j)
    taken = set(S)
    rest = [j for j in range(n) if j not in taken]                    # otherwise: shuffle the free
    for k in range(target - len(S)):
        r = k + _draw_ref(u, cursor, len(rest) - k)
        rest[k], rest[r] = rest[r], rest[k]
        S.append(rest[k])


def select_edbt_reference(tables, qcodes, valid, tau, pool, out, scratch):
    u, cursor = _uniforms(pool, (tables.ids.shape[0] + 5) * tau)
    S = []
    for t in range(tables.ids.shape[0] if valid else 0):
        if len(S) >= tau:
            break                                                     # early stop
        B = list(bucket(tables, t, qcodes[t]))
        if len(B) > tau:                                              # cap: a random tau-subset
            for k in range(tau):
                r = k + _draw_ref(u, cursor, len(B) - k)
                B[k], B[r] = B[r], B[k]
            B = B[:tau]
        S += [j for j in B if j not in S]
    _fill_ref(tables.ids.shape[1], tau, S, u, cursor)                 # random fill to tau
    out[:len(S)] = S
    return len(S)


def _counts_ref(tables, qcodes, valid):
    counts = {}                                                       # insertion order = found order
    for t in range(tables.ids.shape[0] if valid else 0):
        for j in bucket(tables, t, qcodes[t]):
            counts[int(j)] = counts.get(int(j), 0) + 1
    return counts


def select_topfreq_reference(tables, qcodes, valid, n_keep, out, scratch):
    counts = _counts_ref(tables, qcodes, valid)
    S = sorted(counts, key=lambda j: -counts[j])[:n_keep]            # stable: ties keep found order
    out[:len(S)] = S
    return len(S)


def select_union_reference(tables, qcodes, valid, out, scratch):
    return select_threshold_reference(tables, qcodes, valid, 0, out, scratch)


def select_threshold_reference(tables, qcodes, valid, theta, out, scratch):
    S = [j for j, c in _counts_ref(tables, qcodes, valid).items() if c > theta]
    out[:len(S)] = S
    return len(S)


def select_random_reference(n, k, pool, out, scratch):
    u, cursor = _uniforms(pool, 5 * k)
    S = []
    _fill_ref(n, k, S, u, cursor)
    out[:k] = S
    return k


# ---------------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------------

@jit
def _draw(u, cursor, m):
    j = min(int(u[cursor[0]] * m), m - 1)
    cursor[0] += 1
    return j


@jit
def _fill(n, target, out, size, mark, buf, u, cursor):
    need = target - size
    attempts = 4 * need if 0 < need and 2 * need <= n - size else 0
    while size < target and attempts > 0:
        attempts -= 1
        j = _draw(u, cursor, n)
        if mark[j] == 0:
            mark[j] = 1
            out[size] = j
            size += 1
    if size < target:
        n_free = 0
        for j in range(n):
            if mark[j] == 0:
                buf[n_free] = j
                n_free += 1
        for k in range(target - size):                 # partial Fisher-Yates over the free units
            r = k + _draw(u, cursor, n_free - k)
            j = buf[r]
            buf[r] = buf[k]
            buf[k] = j
            mark[j] = 1
            out[size] = j
            size += 1
    return size


@jit
def _select_edbt(offsets, ids, qcodes, valid, tau, u, cursor, out, mark, buf):
    L, n = ids.shape
    if len(u) - cursor[0] < (L + 5) * tau:            # -1: the caller refills the pool and retries
        return -1
    size = 0
    for t in range(L if valid else 0):
        if size >= tau:
            break
        lo = offsets[t, qcodes[t]]
        B = offsets[t, qcodes[t] + 1] - lo
        take = min(B, tau)
        if B > tau:                                    # cap: random tau-subset (partial Fisher-Yates)
            buf[:B] = ids[t, lo:lo + B]
            for k in range(tau):
                r = k + _draw(u, cursor, B - k)
                j = buf[r]
                buf[r] = buf[k]
                buf[k] = j
        for k in range(take):
            j = buf[k] if B > tau else ids[t, lo + k]
            if mark[j] == 0:
                mark[j] = 1
                out[size] = j
                size += 1
    size = _fill(n, tau, out, size, mark, buf, u, cursor)
    for k in range(size):
        mark[out[k]] = 0
    return size


@jit
def _collect(offsets, ids, qcodes, valid, mark, cand):
    # distinct units of the probed buckets into cand, in found order; mark[j] = collision count
    n_cand = 0
    for t in range(ids.shape[0] if valid else 0):
        for k in range(offsets[t, qcodes[t]], offsets[t, qcodes[t] + 1]):
            j = ids[t, k]
            if mark[j] == 0:
                cand[n_cand] = j
                n_cand += 1
            mark[j] += 1
    return n_cand


@jit
def _select_topfreq(offsets, ids, qcodes, valid, n_keep, out, mark, buf, hist):
    L = ids.shape[0]
    n_cand = _collect(offsets, ids, qcodes, valid, mark, buf)
    hist[:] = 0
    for c in range(n_cand):
        hist[mark[buf[c]]] += 1
    start = 0
    for count in range(L, 0, -1):                      # counting sort by count, descending, stable
        size_c = hist[count]
        hist[count] = start
        start += size_c
    size = min(n_keep, n_cand)
    for c in range(n_cand):
        j = buf[c]
        p = hist[mark[j]]
        hist[mark[j]] = p + 1
        if p < size:
            out[p] = j
        mark[j] = 0
    return size


@jit
def _select_threshold(offsets, ids, qcodes, valid, theta, out, mark, buf):
    n_cand = _collect(offsets, ids, qcodes, valid, mark, buf)
    size = 0
    for c in range(n_cand):
        j = buf[c]
        if mark[j] > theta:
            out[size] = j
            size += 1
        mark[j] = 0
    return size


@jit
def _select_random(n, k, u, cursor, out, mark, buf):
    if len(u) - cursor[0] < 5 * k:
        return -1
    size = _fill(n, k, out, 0, mark, buf, u, cursor)
    for i in range(size):
        mark[out[i]] = 0
    return size


def _check(out, largest):
    if len(out) < largest:
        raise ValueError(f"out holds {len(out)} ids; this selection can return {largest}")


def select_edbt(tables, qcodes, valid, tau, pool, out, scratch):
    """EDBT union with early stop, per-bucket cap tau and random fill; tau <= size <= 2 tau - 1."""
    n = tables.ids.shape[1]
    if not 0 <= tau <= n:
        raise ValueError(f"the active-set size tau must be in 0..{n} units, got {tau}")
    _check(out, min(n, max(2 * tau - 1, tau)))
    size = _select_edbt(tables.offsets, tables.ids, qcodes, valid, tau, pool.u, pool.cursor, out,
                        scratch.mark, scratch.buf)
    if size < 0:     # fewer unused uniforms than L capped buckets (tau each) and a fill (<= 5 tau) need
        u, cursor = _uniforms(pool, (tables.ids.shape[0] + 5) * tau)
        size = _select_edbt(tables.offsets, tables.ids, qcodes, valid, tau, u, cursor, out, scratch.mark,
                            scratch.buf)
    return size


def select_topfreq(tables, qcodes, valid, n_keep, out, scratch):
    """The n_keep units found in most of the L buckets (KDD'17); fewer if fewer were found."""
    _check(out, min(n_keep, tables.ids.shape[1]))
    return _select_topfreq(tables.offsets, tables.ids, qcodes, valid, n_keep, out, scratch.mark,
                           scratch.buf, scratch.hist)


def select_union(tables, qcodes, valid, out, scratch):
    """Every unit in any of the L buckets."""
    return select_threshold(tables, qcodes, valid, 0, out, scratch)


def select_threshold(tables, qcodes, valid, theta, out, scratch):
    """Units in more than theta of the L buckets (SLIDE)."""
    _check(out, tables.ids.shape[1])
    return _select_threshold(tables.offsets, tables.ids, qcodes, valid, theta, out, scratch.mark,
                             scratch.buf)


def select_random(n, k, pool, out, scratch):
    """A uniformly random k-subset of range(n)."""
    if not 0 <= k <= n or len(out) < k:
        raise ValueError(f"cannot draw {k} of {n} units into {len(out)} slots")
    size = _select_random(n, k, pool.u, pool.cursor, out, scratch.mark, scratch.buf)
    if size < 0:
        u, cursor = _uniforms(pool, 5 * k)
        size = _select_random(n, k, u, cursor, out, scratch.mark, scratch.buf)
    return size


def select_cost(n, L, n_bits, size):
    """Expected cost with uniformly filled buckets: read L offsets pairs and L n / 2^n_bits ids,
    check and reset one mark per id read; write the size selected ids."""
    ids_read = (L * n) >> n_bits
    return Cost(0, (2 * L + 2 * ids_read) * 4, (size + 2 * ids_read) * 4)


@register_warmup
def warmup_lsh_select():
    tables = make_tables(2, 2, 5)
    build_tables(np.array([[0, 1, 1, 3, 1], [2, 2, 2, 2, 0]], np.int32), tables)
    qcodes = np.array([1, 2], np.int32)
    pool = make_uniform_pool(np.random.default_rng(0), 64)
    scratch = make_select_scratch(5, 2)
    out = np.empty(5, np.int32)
    select_edbt(tables, qcodes, True, 2, pool, out, scratch)
    select_topfreq(tables, qcodes, True, 2, out, scratch)
    select_threshold(tables, qcodes, True, 1, out, scratch)
    select_random(5, 3, pool, out, scratch)

