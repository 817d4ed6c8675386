"""Densified winner-take-all hashing (DWTA; Chen & Shrivastava, UAI 2018; SLIDE's default family).

H = K*L hashes, each over a bin of B = 2^bin_bits coordinate slots. The slots are filled by
concatenated random permutations of the dim coordinates (ceil(H B / dim) of them), so slot
s = p*dim + position of coordinate i in permutation p belongs to bin s // B at position s % B. A hash
value is the position (0..B-1) of the largest *non-zero* coordinate in its bin (WTA; ties go to the
lower position). A bin that holds no non-zero borrows the value of another bin, chosen by the
2-universal hash  ((a0 + a1 (h + 1) + a2 attempt) mod (2^31 - 1)) mod H  over up to 100 attempts
(densification: sparse vectors still get H values). If all attempts fail the value is 0 (SLIDE
leaves INT_MIN, reference-implementations.md §8.13). For a vector with no zero coordinates this is
plain WTA. Codes are rank based: scaling a whole vector leaves its code unchanged. The appended
coordinates of P and Q take part like any other coordinate (Q's zeros do not, being zeros), so
the global rescale of the rows and the query's norm matter only relative to those.

Table t's code is  sum_k value[t*K + k] << (k * bin_bits): 2^(K bin_bits) buckets. SLIDE shifts by
floor(ln B) = 2 bits instead of log2 B = 3 (a known bug, issues #36/#45); we use log2 B.

Shape legend: n rows, d = D_in, e transform extras, dim = d + e, H = K*L, nnz query non-zeros.
    bins  (H, B) int32: the coordinate in each slot; a dense vector reads only these H*B entries
    slots (n_perm, dim) int32: the inverse map, slot of coordinate i in permutation p (-1 if beyond
          H*B); a sparse query offers each non-zero to its slots
    univ  (3,) int64: a0, a1, a2 of the densification hash
"""
from typing import NamedTuple

import numpy as np

from ._jit import jit, register_warmup
from .cost import Cost
from .lsh_transforms import (dense_query_reference, make_transform, query_constant, rows_extension,
                             rows_extension_cost, transform_query_reference,
                             transform_rows_reference)

_PRIME = 2147483647
_ATTEMPTS = 100


class DWTAProjection(NamedTuple):
    K: int
    L: int
    bin_bits: int            # B = 2^bin_bits slots per bin (SLIDE: B = 8)
    bins: np.ndarray         # (H, B) int32
    slots: np.ndarray        # (n_perm, dim) int32
    univ: np.ndarray         # (3,) int64


def _fill(rng, proj):
    n_perm, dim = proj.slots.shape
    used = proj.K * proj.L << proj.bin_bits                             # H * B slots in use
    for p in range(n_perm):
        perm = rng.permutation(dim)                                     # perm[pos] = coordinate
        slot = p * dim + np.arange(dim)
        proj.slots[p, perm] = np.where(slot < used, slot, -1)
        in_use = slot < used
        proj.bins.reshape(-1)[slot[in_use]] = perm[in_use]
    proj.univ[...] = [rng.integers(0, _PRIME), rng.integers(1, _PRIME), rng.integers(1, _PRIME)]


def draw_dwta(rng, dim, K, L, bin_bits=3):
    """Draw the permutations and the densification hash for K*L WTA hashes over dim coordinates."""
    if not (K >= 1 and L >= 1 and 1 <= bin_bits <= 4 and K * bin_bits <= 30):
        raise ValueError(f"DWTA needs K >= 1, L >= 1, 1 <= bin_bits <= 4 and K*bin_bits <= 30; "
                         f"got K={K}, L={L}, bin_bits={bin_bits}")
    n_perm = -(-(K * L << bin_bits) // dim)
    proj = DWTAProjection(int(K), int(L), int(bin_bits), np.empty((K * L, 1 << bin_bits), np.int32),
                          np.empty((n_perm, dim), np.int32), np.empty(3, np.int64))
    _fill(rng, proj)
    return proj


def redraw_dwta(rng, proj):
    _fill(rng, proj)


# ---------------------------------------------------------------------------------------------
# NumPy reference: build each bin's coordinate list, argmax over its non-zeros, densify
# ---------------------------------------------------------------------------------------------

def _dwta_codes_reference(X, proj):
    """codes (L, n) of the fully transformed vectors X (n, dim)."""
    H, B = proj.K * proj.L, 1 << proj.bin_bits
    n_perm, dim = proj.slots.shape
    coord_of_slot = np.full(n_perm * dim, -1)
    for p in range(n_perm):
        ok = proj.slots[p] >= 0
        coord_of_slot[proj.slots[p, ok]] = np.nonzero(ok)[0]
    bins = coord_of_slot[:H * B].reshape(H, B)                          # coordinate in each slot
    vals = X[:, bins].astype(np.float64)                                # (n, H, B)
    nonzero = vals != 0
    arg = np.argmax(np.where(nonzero, vals, -np.inf), axis=2)           # first max = lower position
    filled = nonzero.any(axis=2)                                        # (n, H)
    a0, a1, a2 = (int(x) for x in proj.univ)
    value = np.zeros_like(arg)
    for j in range(X.shape[0]):
        for h in range(H):
            if filled[j, h]:
                value[j, h] = arg[j, h]
                continue
            for attempt in range(_ATTEMPTS):                            # densification
                h2 = (a0 + a1 * (h + 1) + a2 * attempt) % _PRIME % H
                if filled[j, h2]:
                    value[j, h] = arg[j, h2]
                    break
    shifts = np.arange(proj.K) * proj.bin_bits
    return (value.reshape(-1, proj.L, proj.K) << shifts).sum(axis=2).T.astype(np.int32)


def dwta_hash_rows_reference(W, t, proj, out):
    P, scale = transform_rows_reference(W, t)
    out[...] = _dwta_codes_reference(P, proj)
    return scale


def dwta_hash_query_reference(q, t, proj, out):
    Q, valid = transform_query_reference(q, t)
    out[...] = _dwta_codes_reference(Q[None, :], proj)[:, 0] if valid else 0
    return valid


def dwta_hash_sparse_query_reference(vals, idx, t, proj, out):
    q = dense_query_reference(vals, idx, proj.slots.shape[1] - t.m)
    return dwta_hash_query_reference(q, t, proj, out)


# ---------------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------------

@jit
def _offer(v, coord, slots, bin_bits, best, arg, filled):
    # coordinate `coord` with non-zero value v enters every bin it has a slot in
    mask = (1 << bin_bits) - 1
    for p in range(slots.shape[0]):
        s = slots[p, coord]
        if s < 0:
            continue
        h = s >> bin_bits
        pos = s & mask
        if not filled[h] or v > best[h] or (v == best[h] and pos < arg[h]):
            best[h] = v
            arg[h] = pos
            filled[h] = True


@jit
def _finish(arg, filled, univ, K, L, bin_bits, out, col):
    H = K * L
    for t in range(L):
        code = 0
        for k in range(K):
            h = t * K + k
            value = 0
            if filled[h]:
                value = arg[h]
            else:
                for attempt in range(_ATTEMPTS):     # densification: borrow from a non-empty bin
                    h2 = (univ[0] + univ[1] * (h + 1) + univ[2] * attempt) % _PRIME % H
                    if filled[h2]:
                        value = arg[h2]
                        break
            code |= value << (k * bin_bits)
        out[t, col] = code


@jit
def _argmax_bins(v, bins, best, arg, filled):
    # WTA over the dense vector v (dim,): for each bin, the position of its largest non-zero
    for h in range(bins.shape[0]):
        filled[h] = False
        for pos in range(bins.shape[1]):             # ascending: a tie keeps the lower position
            x = v[bins[h, pos]]
            if x != 0 and (not filled[h] or x > best[h]):
                best[h] = x
                arg[h] = pos
                filled[h] = True


@jit
def _dwta_rows(W, scale, ext, bins, univ, K, L, bin_bits, out):
    n, d = W.shape
    H = K * L
    v = np.empty(d + ext.shape[1], dtype=np.float64)     # one transformed row, P(scale * w_j)
    best = np.empty(H, dtype=np.float64)
    arg = np.empty(H, dtype=np.int64)
    filled = np.empty(H, dtype=np.bool_)
    for j in range(n):
        for h in range(H):                               # gather only the H*B coordinates in use
            for pos in range(bins.shape[1]):
                c = bins[h, pos]
                v[c] = scale * W[j, c] if c < d else ext[j, c - d]
        _argmax_bins(v, bins, best, arg, filled)
        _finish(arg, filled, univ, K, L, bin_bits, out, j)


@jit
def _dwta_query_dense(q, c, n_extra, bins, univ, K, L, bin_bits, out):
    # Q(q) = [q/|q|; c, ..., c], gathered at the H*B coordinates in use
    d = q.shape[0]
    H = K * L
    nrm2 = 0.0
    for i in range(d):
        nrm2 += float(q[i]) * float(q[i])
    if nrm2 == 0:
        out[:, 0] = 0
        return False
    inv_norm = 1.0 / np.sqrt(nrm2)
    v = np.empty(d + n_extra, dtype=np.float64)
    for h in range(H):
        for pos in range(bins.shape[1]):
            i = bins[h, pos]
            v[i] = q[i] * inv_norm if i < d else c
    best = np.empty(H, dtype=np.float64)
    arg = np.empty(H, dtype=np.int64)
    filled = np.empty(H, dtype=np.bool_)
    _argmax_bins(v, bins, best, arg, filled)
    _finish(arg, filled, univ, K, L, bin_bits, out, 0)
    return True


@jit
def _dwta_query_sparse(vals, idx, c, n_extra, slots, univ, K, L, bin_bits, out):
    # q given by its non-zeros q[idx] = vals, each offered to its slots; Q(q) = [q/|q|; c, ..., c]
    H = K * L
    dim = slots.shape[1]
    nrm2 = 0.0
    for p in range(vals.shape[0]):
        nrm2 += float(vals[p]) * float(vals[p])
    if nrm2 == 0:
        out[:, 0] = 0
        return False
    inv_norm = 1.0 / np.sqrt(nrm2)
    best = np.empty(H, dtype=np.float64)
    arg = np.empty(H, dtype=np.int64)
    filled = np.zeros(H, dtype=np.bool_)
    for p in range(vals.shape[0]):
        if vals[p] != 0:
            _offer(vals[p] * inv_norm, idx[p], slots, bin_bits, best, arg, filled)
    if c != 0:
        for i in range(dim - n_extra, dim):
            _offer(c, i, slots, bin_bits, best, arg, filled)
    _finish(arg, filled, univ, K, L, bin_bits, out, 0)
    return True


def dwta_hash_rows(W, t, proj, out, ext=None):
    """Codes of P(scale * W) into out (L, n); returns the global scale."""
    ext = np.empty((W.shape[0], t.m), dtype=W.dtype) if ext is None else ext
    scale = rows_extension(W, t, ext)
    _dwta_rows(W, scale, ext, proj.bins, proj.univ, proj.K, proj.L, proj.bin_bits, out)
    return scale


def dwta_hash_query(q, t, proj, out):
    """Codes of Q(q) into out (L,); False (codes 0) for an all-zero q."""
    return _dwta_query_dense(q, query_constant(t), t.m, proj.bins, proj.univ, proj.K, proj.L, proj.bin_bits,
                             out.reshape(-1, 1))


def dwta_hash_sparse_query(vals, idx, t, proj, out):
    """Codes of Q(q) for q[idx] = vals (idx unique) into out (L,); False if all zero."""
    return _dwta_query_sparse(vals, idx, query_constant(t), t.m, proj.slots, proj.univ, proj.K, proj.L,
                              proj.bin_bits, out.reshape(-1, 1))


def dwta_hash_rows_cost(n, d, n_extra, H, B, L, itemsize):
    """Transform, then H*B slots gathered and compared per row. Compare-selects are not multiply-adds:
    macs counts the scalings (one per slot read)."""
    return rows_extension_cost(n, d, n_extra, itemsize) + Cost(n * H * B, n * H * B * (itemsize + 4),
                                                                L * n * 4)


def dwta_hash_query_cost(d, n_extra, H, B, n_perm, L, itemsize, nnz=None):
    """Dense: the norm (d MACs) and H*B slots gathered. Sparse: each non-zero offered to n_perm slots."""
    if nnz is None:
        return Cost(d + H * B, d * itemsize + H * B * (itemsize + 4), L * 4)
    return Cost(2 * nnz, nnz * (itemsize + 4) + (nnz + n_extra) * n_perm * 4, L * 4)


@register_warmup
def warmup_lsh_dwta():
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        t = make_transform("l2_alsh")
        proj = draw_dwta(rng, 4 + t.m, 2, 2, bin_bits=2)
        W = rng.standard_normal((3, 4)).astype(dtype)
        dwta_hash_rows(W, t, proj, np.empty((2, 3), np.int32))
        dwta_hash_query(W[0], t, proj, np.empty(2, np.int32))
        dwta_hash_sparse_query(W[0, :2].copy(), np.array([0, 2], np.int32), t, proj,
                               np.empty(2, np.int32))
