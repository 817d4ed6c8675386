"""Signed random projections (SimHash): K-bit codes for L tables, for weight rows and for queries.

Bit k of table t for a transformed vector x (dim,) is  [ r_b . x >= 0 ],  b = t*K + k  (the EDBT code
also sets the bit on >= 0), and the table's code is  sum_k bit_k << k,  one of 2^K buckets. For a
Gaussian r, two vectors at angle theta agree on a bit with probability 1 - theta/pi (Charikar 2002);
a table collides with probability (1 - theta/pi)^K, and a unit is retrieved by at least one of the L
tables with probability 1 - (1 - p^K)^L (EDBT §5.2).

Families (reference-implementations.md §4, §6):
    srp_gaussian     r ~ N(0, I)                                  (KDD'17 code)
    srp_rademacher   r uniform in {-1, +1}^dim                    (EDBT code, LSH-Mutual-Information)
    srp_sparse       exactly ceil(dim / ratio) random coordinates of each r are +-1, the rest 0
                     (SLIDE's SparseRandomProjection, ratio 3). Stored densely: at dim 1003 and
                     K L = 30 a dense pass over all coordinates (~4 us) beat a gather over the used
                     third (~12 us), so this family changes the statistics, not the cost.

Shape legend: KL = K*L hash bits, dim = d + e (see lsh_transforms), n rows, nnz query non-zeros.
    planes           (KL, dim)  one hyperplane per bit, as W holds one row per unit
    planes_by_coord  (dim, KL)  the same numbers transposed: a sparse query reads one row per
                                non-zero, and the row build is the BLAS product W @ planes_by_coord[:d]
    codes            (L, n) int32 for rows, (L,) int32 for a query
"""
from typing import NamedTuple

import numpy as np

from ._jit import jit, register_warmup
from .cost import Cost
from .lsh_transforms import (dense_query_reference, make_transform, query_constant, rows_extension,
                             rows_extension_cost, transform_query_reference,
                             transform_rows_reference)

SRP_FAMILIES = ("srp_gaussian", "srp_rademacher", "srp_sparse")


class SRPProjection(NamedTuple):
    family: str
    K: int                   # bits per table
    L: int                   # tables
    ratio: int               # srp_sparse: one coordinate in `ratio` is used per bit
    planes: np.ndarray       # (KL, dim)
    planes_by_coord: np.ndarray  # (dim, KL), planes.T made contiguous


def _fill_planes(rng, proj):
    KL, dim = proj.planes.shape
    dtype = proj.planes.dtype
    if proj.family == "srp_gaussian":
        proj.planes[...] = rng.standard_normal((KL, dim), dtype=dtype)
    elif proj.family == "srp_rademacher":
        proj.planes[...] = 2 * rng.integers(0, 2, size=(KL, dim)) - 1
    else:
        n_used = -(-dim // proj.ratio)                                   # ceil(dim / ratio)
        used = np.argsort(rng.random((KL, dim)), axis=1)[:, :n_used]     # a random subset per bit
        proj.planes[...] = 0
        np.put_along_axis(proj.planes, used, 2 * rng.integers(0, 2, size=used.shape) - 1, axis=1)
    proj.planes_by_coord[...] = proj.planes.T


def draw_srp(rng, family, dim, K, L, dtype=np.float32, ratio=3):
    """Draw the K*L hyperplanes of `family` over vectors of length dim (= d + transform extras)."""
    if family not in SRP_FAMILIES:
        raise ValueError(f"unknown signed-projection family {family!r}; choose one of {SRP_FAMILIES}")
    if not (1 <= K <= 30 and L >= 1 and ratio >= 1):
        raise ValueError(f"LSH needs 1 <= K <= 30 bits, L >= 1 tables, ratio >= 1; got K={K}, L={L}, "
                         f"ratio={ratio}")
    proj = SRPProjection(family, int(K), int(L), int(ratio), np.empty((K * L, dim), dtype=dtype),
                         np.empty((dim, K * L), dtype=dtype))
    _fill_planes(rng, proj)
    return proj


def redraw_srp(rng, proj):
    """New hyperplanes from rng, written into proj's arrays (SLIDE redraws them on a schedule)."""
    _fill_planes(rng, proj)


# ---------------------------------------------------------------------------------------------
# NumPy references: transform explicitly, project, take signs, pack
# ---------------------------------------------------------------------------------------------

def pack_bits_reference(bits, K, L):
    """bits (n, K*L) bool -> codes (L, n): code[t, j] = sum_k bits[j, t*K + k] << k."""
    weights = (1 << np.arange(K)).astype(np.int64)                       # (K,)
    return (bits.reshape(-1, L, K) * weights).sum(axis=2).T.astype(np.int32)


def srp_hash_rows_reference(W, t, proj, out):
    """Codes of P(scale * W) for every row into out (L, n); returns the global scale."""
    P, scale = transform_rows_reference(W, t)                            # (n, dim)
    out[...] = pack_bits_reference(P @ proj.planes.T >= 0, proj.K, proj.L)   # (n, dim) @ (dim, KL)
    return scale


def srp_hash_query_reference(q, t, proj, out):
    """Codes of Q(q) into out (L,); returns False (codes 0) for an all-zero q."""
    Q, valid = transform_query_reference(q, t)
    out[...] = pack_bits_reference((proj.planes @ Q >= 0)[None, :], proj.K, proj.L)[:, 0] if valid else 0
    return valid


def srp_hash_sparse_query_reference(vals, idx, t, proj, out):
    """Same as the dense query on q with q[idx] = vals, d = dim - t.m."""
    q = dense_query_reference(vals, idx, proj.planes.shape[1] - t.m)
    return srp_hash_query_reference(q, t, proj, out)


# ---------------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------------

@jit
def _srp_pack_rows(Z, scale, ext, planes_by_coord, K, L, out):
    # Z (n, KL) = W @ planes_by_coord[:d]; projection of P(w_j) = scale * Z[j] + ext[j] @ planes_by_coord[d:]
    n = Z.shape[0]
    n_extra = ext.shape[1]
    d = planes_by_coord.shape[0] - n_extra
    for j in range(n):
        for t in range(L):
            code = 0
            for k in range(K):
                b = t * K + k
                s = scale * Z[j, b]
                for e in range(n_extra):
                    s += ext[j, e] * planes_by_coord[d + e, b]
                if s >= 0:
                    code |= 1 << k
            out[t, j] = code


@jit
def _pack_query(acc, extra, inv_norm, c, K, L, out):
    """out[t] = table t's K sign bits: bit k is set when acc[b] / |q| + c * extra[b] >= 0, b = tK + k
    (acc[b] = r_b[:d] . q; extra[b] = the sum of r_b over Q's appended coordinates, each equal to c)."""
    for t in range(L):
        code = 0
        for k in range(K):
            b = t * K + k
            if acc[b] * inv_norm + c * extra[b] >= 0:
                code |= 1 << k
        out[t] = code


@jit
def _srp_query_dense(q, c, planes, K, L, out):
    d = q.shape[0]
    dim = planes.shape[1]
    nrm2 = q.dtype.type(0)
    for i in range(d):
        nrm2 += q[i] * q[i]
    if nrm2 == 0:
        out[:] = 0
        return False
    acc = np.empty(K * L, dtype=q.dtype)
    extra = np.zeros(K * L)
    for b in range(K * L):
        s = q.dtype.type(0)
        for i in range(d):                           # r_b[:d] . q, a contiguous row of planes
            s += q[i] * planes[b, i]
        acc[b] = s
        for i in range(d, dim):                      # Q's appended coordinates are all c
            extra[b] += planes[b, i]
    _pack_query(acc, extra, 1.0 / np.sqrt(nrm2), c, K, L, out)
    return True


@jit
def _srp_query_sparse(vals, idx, c, n_extra, planes_by_coord, K, L, out):
    dim, KL = planes_by_coord.shape
    acc = np.zeros(KL, dtype=planes_by_coord.dtype)
    nrm2 = vals.dtype.type(0)
    for p in range(vals.shape[0]):                   # one row of planes_by_coord per non-zero
        v = vals[p]
        nrm2 += v * v
        row = idx[p]
        for b in range(KL):
            acc[b] += v * planes_by_coord[row, b]
    if nrm2 == 0:
        out[:] = 0
        return False
    extra = np.zeros(KL)
    for i in range(dim - n_extra, dim):              # Q's appended coordinates are all c
        for b in range(KL):
            extra[b] += planes_by_coord[i, b]
    _pack_query(acc, extra, 1.0 / np.sqrt(nrm2), c, K, L, out)
    return True


def srp_hash_rows(W, t, proj, out, ext=None, work=None):
    """Codes of P(scale * W) (n rows) into out (L, n); returns the scale. ext (n, t.m) and work
    (n, K*L) are optional preallocated buffers (a rebuild then allocates nothing)."""
    n, d = W.shape
    ext = np.empty((n, t.m), dtype=W.dtype) if ext is None else ext
    work = np.empty((n, proj.K * proj.L), dtype=W.dtype) if work is None else work
    scale = rows_extension(W, t, ext)
    np.matmul(W, proj.planes_by_coord[:d], out=work)             # (n, d) @ (d, KL) -> (n, KL), BLAS
    _srp_pack_rows(work, scale, ext, proj.planes_by_coord, proj.K, proj.L, out)
    return scale


def srp_hash_query(q, t, proj, out):
    """Codes of Q(q) into out (L,); returns False (and codes 0) for an all-zero q."""
    return _srp_query_dense(q, query_constant(t), proj.planes, proj.K, proj.L, out)


def srp_hash_sparse_query(vals, idx, t, proj, out):
    """Codes of Q(q) for q given by its non-zeros q[idx] = vals (idx unique); False if all zero."""
    return _srp_query_sparse(vals, idx, query_constant(t), t.m, proj.planes_by_coord, proj.K, proj.L,
                             out)


def srp_hash_rows_cost(n, d, n_extra, K, L, itemsize):
    """Transform, then the (n, d) @ (d, KL) BLAS product, then the extra coordinates and the signs."""
    KL = K * L
    project = Cost(n * (d + n_extra) * KL, (n * d + (d + n_extra) * KL + n * n_extra) * itemsize,
                   n * KL * itemsize)
    pack = Cost(n * KL, n * KL * itemsize, L * n * 4)
    return rows_extension_cost(n, d, n_extra, itemsize) + project + pack


def srp_hash_query_cost(d, n_extra, K, L, itemsize, nnz=None):
    """One (d + e) x (K L) projection for a dense query; nnz x (K L) for a sparse one."""
    KL = K * L
    if nnz is None:
        return Cost(d + (d + n_extra) * KL, (d + (d + n_extra) * KL) * itemsize, L * 4)
    return Cost(nnz + (nnz + n_extra) * KL, nnz * (itemsize + 4) + (nnz + n_extra) * KL * itemsize,
                L * 4)


@register_warmup
def warmup_lsh_hash():
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        for name in ("none", "l2_alsh"):
            t = make_transform(name)
            proj = draw_srp(rng, "srp_gaussian", 4 + t.m, 2, 2, dtype=dtype)
            W = rng.standard_normal((3, 4)).astype(dtype)
            srp_hash_rows(W, t, proj, np.empty((2, 3), np.int32))
            srp_hash_query(W[0], t, proj, np.empty(2, np.int32))
            srp_hash_sparse_query(W[0, :2].copy(), np.array([0, 2], np.int32), t, proj,
                                  np.empty(2, np.int32))
